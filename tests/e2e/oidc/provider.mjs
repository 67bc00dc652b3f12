// A real, OpenID Certified provider (panva/oidc-provider) for tests/e2e/test_oidc.py.
//
//   node provider.mjs PORT REDIRECT_URI CLIENT_SECRET
//
// Serves http://127.0.0.1:PORT (https:// with env TLS_CERT and TLS_KEY, PEM files): discovery,
// JWKS, authorization with the library's own development login form, token, userinfo,
// RP-initiated logout (back to the console's sign-in page, next to the callback); two
// confidential clients, `sentinella` (ID tokens signed RS256) and `sentinella-es256` (ES256),
// and a few accounts whose `groups` claim Sentinella maps to roles. Prints `ready ISSUER`
// once listening. Any password is accepted by the development login form: the provider's
// own authentication is not what is under test, the relying party is.
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { generateKeyPair, exportJWK } from "jose";
import Provider from "oidc-provider";

const [port, redirectUri, clientSecret] = process.argv.slice(2);
if (!port || !redirectUri || !clientSecret) {
  console.error("usage: node provider.mjs PORT REDIRECT_URI CLIENT_SECRET");
  process.exit(2);
}
const tls = process.env.TLS_CERT && process.env.TLS_KEY;
const issuer = `${tls ? "https" : "http"}://127.0.0.1:${port}`;

const ACCOUNTS = {
  carla: { preferred_username: "carla", email: "carla@comune.example.it", groups: ["staff", "soc-analysts"] },
  alice: { preferred_username: "alice", email: "alice@comune.example.it", groups: ["soc-admins"] },
  ugo: { preferred_username: "ugo", email: "ugo@comune.example.it", groups: ["staff"] },
  dana: { preferred_username: "dana", email: "dana@comune.example.it", groups: ["soc-viewers"] },
  // Same user name as carla, another subject: must not become carla.
  "carla-impostor": { preferred_username: "carla", email: "x@evil.example", groups: ["soc-admins"] },
};

const rsa = await generateKeyPair("RS256", { extractable: true });
const ec = await generateKeyPair("ES256", { extractable: true });
const signingKeys = [
  { ...(await exportJWK(rsa.privateKey)), alg: "RS256", use: "sig", kid: "e2e-rs256" },
  { ...(await exportJWK(ec.privateKey)), alg: "ES256", use: "sig", kid: "e2e-es256" },
];
const client = {
  client_secret: clientSecret,
  redirect_uris: [redirectUri],
  post_logout_redirect_uris: [redirectUri.replace(/\/api\/v1\/session\/oidc\/callback$/, "/ui/signin")],
  response_types: ["code"],
  grant_types: ["authorization_code"],
  token_endpoint_auth_method: "client_secret_basic",
};

const provider = new Provider(issuer, {
  clients: [
    { ...client, client_id: "sentinella", id_token_signed_response_alg: "RS256" },
    { ...client, client_id: "sentinella-es256", id_token_signed_response_alg: "ES256" },
  ],
  jwks: { keys: signingKeys },
  enabledJWA: { idTokenSigningAlgValues: ["RS256", "ES256"] },
  cookies: { keys: ["sentinella-e2e-cookie-key-0123456789"] },
  scopes: ["openid", "profile", "email", "groups"],
  claims: {
    openid: ["sub"],
    profile: ["preferred_username"],
    email: ["email"],
    groups: ["groups"],
  },
  // PKCE S256 is what Sentinella sends; make the provider insist on it.
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(ACCOUNTS, id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...ACCOUNTS[id] };
      },
    };
  },
});
provider.proxy = false;

const ready = () => console.log(`ready ${issuer}`);
if (tls) {
  const options = { cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) };
  createServer(options, provider.callback()).listen(Number(port), "127.0.0.1", ready);
} else {
  provider.listen(Number(port), "127.0.0.1", ready);
}
