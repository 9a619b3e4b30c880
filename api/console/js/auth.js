// Sign-in with the city's OpenID provider: authorization code with PKCE (oidc-client-ts), refresh tokens kept
// in this tab's session storage and renewed before the access token expires; sign-out revokes the refresh token
// and ends the provider's session.
const { UserManager, WebStorageStateStore } = window.oidc;

const HOME = `${window.location.origin}/app/`;

// Forget what this tab remembered for the person signed in (purpose of use, emergency grants, who it was).
export function forgetTab() {
  for (const key of Object.keys(sessionStorage)) {
    if (key.startsWith('casebridge.')) sessionStorage.removeItem(key);
  }
}

export class Auth {
  constructor(config, onChange) {
    this.onChange = onChange;
    this.manager = new UserManager({
      authority: config.issuer,
      client_id: config.clientId,
      redirect_uri: HOME,
      post_logout_redirect_uri: HOME,
      response_type: 'code',
      scope: config.scope,
      extraQueryParams: { resource: config.resource },
      automaticSilentRenew: true,
      revokeTokenTypes: ['refresh_token'],
      userStore: new WebStorageStateStore({ store: window.sessionStorage }),
      stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    });
    this.manager.events.addUserLoaded(() => this.onChange('renewed'));
    this.manager.events.addSilentRenewError(() => this.onChange('expired'));
    this.manager.events.addAccessTokenExpired(() => this.onChange('expired'));
    this.manager.events.addUserSignedOut(() => this.onChange('signed-out'));
  }

  // Finishes a sign-in when the provider has just sent the browser back here; the user, or null.
  async start() {
    const params = new URLSearchParams(window.location.search);
    if (params.has('state') && (params.has('code') || params.has('error'))) {
      try {
        const user = await this.manager.signinRedirectCallback();
        window.history.replaceState(null, '', `/app/${user.state?.hash || ''}`);
        return user;
      } catch (err) {
        window.history.replaceState(null, '', '/app/');
        throw err;
      }
    }
    const user = await this.manager.getUser();
    if (user && user.expired) {
      // Renewed with the refresh token only: the page allows no frames, so no hidden-iframe renewal.
      try {
        if (user.refresh_token) return await this.manager.signinSilent();
      } catch {
        // the refresh token has expired or was revoked: sign in again
      }
      await this.manager.removeUser();
      return null;
    }
    return user;
  }

  signIn() {
    return this.manager.signinRedirect({ state: { hash: window.location.hash } });
  }

  async signOut() {
    forgetTab();
    try {
      await this.manager.revokeTokens(['refresh_token']);
    } catch {
      // RFC 7009 answers 200 with an empty body; a provider that labels it text/plain makes oidc-client-ts throw
      // after the token was revoked. Ending the provider's session below ends a session-bound token in any case.
    }
    await this.manager.signoutRedirect();
  }

  async token() {
    const user = await this.manager.getUser();
    return user && !user.expired ? user.access_token : null;
  }
}
