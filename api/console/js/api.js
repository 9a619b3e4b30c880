// The public GraphQL API, and nothing else: each call names one of the console's documents (queries/*.graphql,
// checked against schema.graphql by the tests) and carries the signed-in person's token and purpose of use.
export class ApiError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

export class Api {
  constructor(config, auth, onExpired) {
    this.config = config;
    this.auth = auth;
    this.onExpired = onExpired;
    this.documents = new Map();
  }

  async document(name) {
    if (!this.config.queries.includes(name)) throw new Error(`no console query named ${name}`);
    if (!this.documents.has(name)) {
      this.documents.set(name, fetch(`/app/static/queries/${name}.graphql`).then((r) => r.text()));
    }
    return this.documents.get(name);
  }

  // A request to the gateway with the signed-in person's token and purpose of use: the response, or ApiError
  // (UNAUTHENTICATED - the page says the session ended - when there is no token or the gateway refused it).
  async send(url, { method = 'GET', body = undefined, headers = {}, purpose = null } = {}) {
    const token = await this.auth.token();
    if (!token) {
      this.onExpired();
      throw new ApiError('UNAUTHENTICATED');
    }
    const all = { ...headers, authorization: `Bearer ${token}` };
    if (purpose) all['x-purpose-of-use'] = purpose;
    let res;
    try {
      res = await fetch(url, { method, body, headers: all });
    } catch {
      throw new ApiError('NETWORK');
    }
    if (res.status === 401) {
      this.onExpired();
      throw new ApiError('UNAUTHENTICATED');
    }
    return res;
  }

  // {data, errors}; ApiError when the request as a whole failed (no data at all).
  async call(name, variables = {}, purpose = null) {
    const res = await this.send(this.config.graphql, {
      method: 'POST', purpose, body: JSON.stringify({ query: await this.document(name), operationName: name, variables }),
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    });
    const body = await res.json().catch(() => null);
    if (!body) throw new ApiError('INTERNAL');
    const errors = body.errors || [];
    if (body.data === null || body.data === undefined) {
      const first = errors[0] || {};
      throw new ApiError(first.extensions?.code || 'INTERNAL', first.message);
    }
    return { data: body.data, errors };
  }
}

// Files beside GraphQL (the gateway's /documents): the same token and purpose, the file itself as the body; the
// client and the document kind in headers, never in the address (addresses are kept in proxy logs); for a client's
// own file, the organisations they chose to review it (`to`, codes), if any.
export async function sendFile(api, clientId, document, file, purpose, to = []) {
  const headers = { 'content-type': file.type || 'application/octet-stream', 'x-casebridge-client-id': clientId,
    'x-casebridge-document': document };
  if (to.length > 0) headers['x-casebridge-addressed-to'] = to.join(', ');
  const res = await api.send(api.config.documents, { method: 'POST', body: file, purpose, headers });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const first = body?.errors?.[0] || {};
    throw new ApiError(first.extensions?.code || 'INTERNAL', first.message);
  }
  return body.file;
}

// A file's content as a Blob (for the person to look at or save), or ApiError.
export async function fetchFile(api, fileId, purpose) {
  const res = await api.send(`${api.config.documents}/${encodeURIComponent(fileId)}`, { purpose });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new ApiError(body?.errors?.[0]?.extensions?.code || 'INTERNAL');
  }
  return res.blob();
}

// What failed under a field, by the name of the field below it: e.g. sectionErrors(errors, 'client') maps
// 'benefits' to {code: 'AGENCY_UNAVAILABLE', connector: 'benefits'} when that section is null because the
// agency did not answer (the rest of the answer stands).
export function sectionErrors(errors, field) {
  const out = {};
  for (const e of errors) {
    const path = e.path || [];
    if (path[0] === field && path.length === 2) {
      out[path[1]] = { code: e.extensions?.code || 'INTERNAL', connector: e.extensions?.connector || '' };
    }
  }
  return out;
}

// The first error's code for a field (e.g. a null `client`), or null.
export function errorFor(errors, field) {
  const hit = errors.find((e) => (e.path || [])[0] === field);
  return hit ? hit.extensions?.code || 'INTERNAL' : null;
}
