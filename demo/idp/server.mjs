// The demo's and the tests' OpenID provider: panva's oidc-provider (OpenID Certified), configured for the
// console as a public client (authorization code + PKCE, refresh tokens rotated) and for the gateway as the
// resource server whose JWT access tokens carry the claims it maps (organisation, roles, the client's own id).
// Only the sign-in page is ours: the demo users and one demo password. Started by demo/idp.py, which writes
// the configuration file named on the command line; listens on 127.0.0.1 only; stops on SIGTERM.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const users = new Map(cfg.users.map((u) => [u.username, u]));
const bySubject = new Map(cfg.users.map((u) => [u.subject, u]));

function tokenClaims(user) {
  const claims = { [cfg.claims.organization]: user.organization, [cfg.claims.roles]: user.roles };
  if (user.client_id) claims[cfg.claims.self_client] = user.client_id;
  return claims;
}

const provider = new Provider(cfg.issuer, {
  clients: [{
    client_id: cfg.client.id,
    client_name: 'casebridge console',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: cfg.client.redirect_uris,
    post_logout_redirect_uris: cfg.client.post_logout_redirect_uris,
  }],
  jwks: { keys: [cfg.signing_key] },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    // Plain http on 127.0.0.1: a SameSite=None cookie needs Secure, so the browser would drop it.
    long: { signed: true, httpOnly: true, sameSite: 'lax' },
    short: { signed: true, httpOnly: true, sameSite: 'lax' },
  },
  scopes: ['openid', 'profile', 'offline_access'],
  claims: { openid: ['sub'], profile: ['name'] },
  async findAccount(ctx, sub) {
    const user = bySubject.get(sub);
    if (!user) return undefined;
    return { accountId: sub, claims: async () => ({ sub, name: user.name }) };
  },
  clientBasedCORS: (ctx, origin) => cfg.client.origins.includes(origin),
  pkce: { required: () => true },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: cfg.access_token_seconds,
    IdToken: cfg.access_token_seconds,
    RefreshToken: cfg.refresh_token_seconds,
    Session: cfg.refresh_token_seconds,
    Grant: cfg.refresh_token_seconds,
    Interaction: 600,
    AuthorizationCode: 60,
  },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => cfg.audience,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, indicator) {
        if (indicator !== cfg.audience) throw new errors.InvalidTarget();
        return {
          scope: 'casebridge', audience: cfg.audience, accessTokenTTL: cfg.access_token_seconds,
          accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
    rpInitiatedLogout: {
      logoutSource(ctx, form) {
        ctx.body = page('Sign out', `<h1>Sign out of casebridge?</h1>${form}
          <button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
      },
      postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<h1>You are signed out.</h1>');
      },
    },
  },
  extraTokenClaims(ctx, token) {
    const user = bySubject.get(token.accountId);
    return user ? tokenClaims(user) : undefined;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Sign-in problem', `<h1>Sign-in problem</h1><p>${escape(out.error_description || out.error)}</p>`);
  },
});
provider.proxy = false;

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>${escape(title)} - casebridge demo sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
label{display:block;margin-top:1rem;font-weight:600}input,select,button{font-size:1rem;padding:.5rem;width:100%;
box-sizing:border-box}button{margin-top:1.5rem;background:#005ea2;color:#fff;border:0;border-radius:.25rem;
cursor:pointer}button:focus,input:focus,select:focus{outline:.25rem solid #2491ff;outline-offset:0}
.error{border-left:.5rem solid #b50909;padding:.5rem 1rem;background:#f4e3db}small{color:#454545}</style>
</head><body><main>${body}</main></body></html>`;
}

function loginForm(uid, error, username) {
  const options = cfg.users.map((u) => `<option value="${escape(u.username)}"${u.username === username ? ' selected' : ''}>`
    + `${escape(u.username)} - ${escape(u.label)}</option>`).join('');
  return page('Sign in', `<h1>Sign in to casebridge</h1>
<p><small>Development sign-in for the demo city. Production signs in with the city's own provider.</small></p>
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<label for="username">Demo user</label><select id="username" name="username" required>${options}</select>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button></form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 4096) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function grantAll(details) {
  // The console is the city's own first-party client: what it asks for is granted without a consent screen.
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function interaction(req, res, url) {
  const [, , uid, step] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.SessionNotFound('interaction mismatch');
  const send = (status, html) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  };
  if (details.prompt.name === 'login') {
    if (req.method === 'POST' && step === 'login') {
      const form = await readForm(req);
      const user = users.get(form.get('username') || '');
      if (!user || form.get('password') !== cfg.password) {
        return send(401, loginForm(uid, 'That user name or password is not right.', form.get('username')));
      }
      return provider.interactionFinished(req, res, { login: { accountId: user.subject } },
        { mergeWithLastSubmission: false });
    }
    return send(200, loginForm(uid, '', ''));
  }
  if (details.prompt.name === 'consent') {
    const grantId = await grantAll(details);
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(400, page('Sign-in problem', '<h1>Sign-in problem</h1><p>Unexpected step; start again.</p>'));
}

const callback = provider.callback();
const server = createServer(async (req, res) => {
  // No page of the provider's (sign-in, sign-out) may be framed by another site.
  res.setHeader('content-security-policy', "frame-ancestors 'none'");
  res.setHeader('x-frame-options', 'DENY');
  const url = new URL(req.url, cfg.issuer);
  if (!url.pathname.startsWith('/interaction/')) return callback(req, res);
  try {
    return await interaction(req, res, url);
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(page('Sign-in problem', '<h1>Sign-in problem</h1><p>This sign-in has expired; start again.</p>'));
  }
});
server.listen(cfg.port, '127.0.0.1', () => process.stdout.write(`listening ${cfg.issuer}\n`));
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections?.(); // a browser's idle keep-alive connections would hold the port open
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// A parent that dies without stopping us closes our stdin: stop then too (no orphan on a port).
process.stdin.on('end', stop);
process.stdin.resume();
