// A real OpenID provider (oidc-provider 9) for tests on loopback: one confidential client, the dev login form (any
// password), the scope's claims in the ID token as most hosted providers do, and no consent screen (a first-party
// client). Shared by the service's own OIDC tests and the desktop's (app/test/sync-service.ts).
import { Provider } from 'oidc-provider';

/** Provider account id → the e-mail claims it signs in with. */
export type ProviderAccounts = Record<string, { email: string; email_verified: boolean }>;

/** The one client the service signs in as. */
export const TEST_OIDC_CLIENT = { id: 'keepsake-sync', secret: 'a-test-client-secret-of-some-length' } as const;

/** A provider at `issuer` knowing `accounts`, whose client may only come back to `redirectUri`. */
export function testIdentityProvider(issuer: string, redirectUri: string, accounts: ProviderAccounts): Provider {
  return new Provider(issuer, {
    clients: [
      {
        client_id: TEST_OIDC_CLIENT.id,
        client_secret: TEST_OIDC_CLIENT.secret,
        redirect_uris: [redirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    cookies: { keys: ['oidc-test-cookie-key-0123456789'] },
    ttl: { Interaction: 600, Grant: 600, Session: 600, AccessToken: 600, IdToken: 600 },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      const claims = accounts[id];
      return claims === undefined ? undefined : { accountId: id, claims: () => ({ sub: id, ...claims }) };
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId !== undefined) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email');
      await grant.save();
      return grant;
    },
  });
}
