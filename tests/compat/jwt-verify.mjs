// Verifies JWTs with the npm `jose` package against a remote JWKS, as a
// JavaScript resource server would:
//
//   node jwt-verify.mjs <jwksURL> <issuer> <audience> <token>...
//
// Prints one JSON line per token: {"ok":true,"payload":…,"header":…} or
// {"ok":false,"code":"ERR_…","message":…}. Exits 2 on a usage error.
// Used by jwt_test.go (TestJoseVerifiesOurJWT).

import { createRemoteJWKSet, jwtVerify } from "jose";

const [jwksURL, issuer, audience, ...tokens] = process.argv.slice(2);
if (!jwksURL || !issuer || !audience || tokens.length === 0) {
  console.error("usage: node jwt-verify.mjs <jwksURL> <issuer> <audience> <token>...");
  process.exit(2);
}

const jwks = createRemoteJWKSet(new URL(jwksURL));
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer, audience });
    console.log(JSON.stringify({ ok: true, payload, header: protectedHeader }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, code: err.code ?? "UNKNOWN", message: String(err.message) }));
  }
}
