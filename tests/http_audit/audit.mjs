// The GraphQL-over-HTTP server audit (graphql-http's auditServer) against a running casebridge gateway.
// Usage: node audit.mjs URL TOKEN  -> prints a JSON array of {id, name, status, reason}.
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
console.log(JSON.stringify(results.map((r) => ({ id: r.id, name: r.name, status: r.status,
                                                 reason: r.status === 'ok' ? undefined : r.reason }))));
