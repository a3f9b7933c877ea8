// Opens envelopes with Better Auth's own symmetricDecrypt, under a secret
// configuration built by its own buildSecretConfig (as createAuthContext
// does for `secrets` + `secret`):
//
//   echo '{"secret":"…","secrets":[{"version":2,"value":"…"}],"items":["…"]}' | node rotation-open.mjs
//
// An item that starts with '"' is a jwks.privateKey column and is
// JSON-parsed first, as the jwt plugin does. Prints one JSON array:
// [{"ok":true,"plaintext":…} | {"ok":false,"error":…}, …].
// Used by rotation_test.go (TestBetterAuthOpensOurEnvelopes).

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { HERE, loadBetterAuth } from "./harness.mjs";

const { crypto } = await loadBetterAuth();
const { buildSecretConfig } = await import(
  pathToFileURL(join(HERE, "node_modules", "better-auth", "dist", "context", "secret-utils.mjs")).href
);

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secret, secrets, items } = JSON.parse(input);
const key = secrets && secrets.length ? buildSecretConfig(secrets, secret) : secret;
const out = [];
for (const item of items) {
  try {
    const data = item.startsWith('"') ? JSON.parse(item) : item;
    out.push({ ok: true, plaintext: await crypto.symmetricDecrypt({ key, data }) });
  } catch (e) {
    out.push({ ok: false, error: String(e.message || e) });
  }
}
console.log(JSON.stringify(out));
