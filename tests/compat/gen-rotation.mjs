// Generates keyring/testdata/betterauth-rotation.json: Better Auth's versioned
// secrets (`secrets: [{version, value}]`, BETTER_AUTH_SECRETS), produced by
// Better Auth itself (memory adapter, its own crypto and config helpers).
//
//   cd tests/compat && npm ci && node gen-rotation.mjs [out.json]
//
// One deployment, three configurations over one database:
//   A  secret S0                              (before rotation)
//   B  secrets [1:S1], secret S0 as legacy    (versions introduced)
//   C  secrets [2:S2, 1:S1], secret S0        (rotated again)
// Each phase signs a user up and turns two-factor on, and mints a JWT (the
// jwks key of A is reused by B; C starts from an empty jwks table so that
// its key is sealed under version 2). The fixture keeps the rows, the
// enable responses, envelopes made by symmetricEncrypt, Better Auth's
// answers for BETTER_AUTH_SECRETS inputs (parse + validate), and runtime
// checks of which secret verifies cookies and email-verification tokens.
// Random parts differ on every run; every value was produced by Better Auth.

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  loadBetterAuth, versions, newDB, snapshotDB, send, cookieFrom, writeJSON, TESTDATA, HERE, BASE_URL, BASE_PATH, SECRET,
} from "./harness.mjs";

const { betterAuth, memoryAdapter, jwt, crypto } = await loadBetterAuth();
const { twoFactor } = await import("better-auth/plugins");
// Not exported by the package: load the module file itself.
const secretUtils = await import(
  pathToFileURL(join(HERE, "node_modules", "better-auth", "dist", "context", "secret-utils.mjs")).href
);

const OUT = process.argv[2] || join(TESTDATA, "..", "..", "keyring", "testdata", "betterauth-rotation.json");

const S0 = SECRET;
const S1 = "rotation-secret-version-1-0123456789abcdefgh";
const S2 = "rotation-secret-version-2-ZYXWVUTSRQPONMLKJI";
const PHASES = {
  A: { secret: S0 },
  B: { secret: S0, secrets: [{ version: 1, value: S1 }] },
  C: { secret: S0, secrets: [{ version: 2, value: S2 }, { version: 1, value: S1 }] },
};
const HEADERS = { "content-type": "application/json", origin: BASE_URL, "user-agent": "mana-auth-rotation/1" };
const PASSWORD = "password123";

function makeAuth(phase, db) {
  return betterAuth({
    database: memoryAdapter(db),
    ...PHASES[phase],
    baseURL: BASE_URL,
    emailAndPassword: { enabled: true },
    plugins: [jwt(), twoFactor()],
    rateLimit: { enabled: false },
    logger: { disabled: true },
  });
}

function must(step, what) {
  if (step.response.status !== 200) throw new Error(`${what}: ${step.response.status} ${JSON.stringify(step.response.body)}`);
  return step;
}

const db = { ...newDB(), jwks: [], twoFactor: [] };
const users = [];
const sessionCookies = {};
async function enrol(phase, auth, email) {
  const su = must(await send(auth, {
    method: "POST", path: `${BASE_PATH}/sign-up/email`, headers: HEADERS,
    body: { name: email.split("@")[0], email, password: PASSWORD },
  }), `sign-up ${email}`);
  const cookie = `better-auth.session_token=${cookieFrom(su)}`;
  sessionCookies[phase] = cookie;
  const en = must(await send(auth, {
    method: "POST", path: `${BASE_PATH}/two-factor/enable`, headers: { ...HEADERS, cookie },
    body: { password: PASSWORD },
  }), `two-factor/enable ${email}`);
  const tok = must(await send(auth, { method: "GET", path: `${BASE_PATH}/token`, headers: { cookie } }), `token ${email}`);
  const userId = su.response.body.user.id;
  users.push({
    phase, email, password: PASSWORD, userId,
    totpURI: en.response.body.totpURI,
    backupCodes: en.response.body.backupCodes,
    token: tok.response.body.token,
  });
}

// A: before rotation.
const authA = makeAuth("A", db);
await enrol("A", authA, "ann@example.com");
// B: versions introduced; A's jwks key (bare hex under S0) still signs.
const authB = makeAuth("B", db);
await enrol("B", authB, "ben@example.com");
const jwksAB = snapshotDB(db).jwks;
if (jwksAB.length !== 1) throw new Error(`phase B minted a new jwks key: ${jwksAB.length}`);
// C: rotated again, with a fresh jwks table so that its key is sealed under 2.
const dbC = { ...db, jwks: [] };
const authC = makeAuth("C", dbC);
await enrol("C", authC, "cid@example.com");
const snap = snapshotDB(dbC);
const rows = {
  user: snap.user,
  account: snap.account,
  twoFactor: snap.twoFactor,
  jwks: [...jwksAB, ...snap.jwks],
};

// Envelopes made by symmetricEncrypt with configurations built by Better
// Auth's own buildSecretConfig, and what configuration C makes of them.
const config = (phase) => {
  const p = PHASES[phase];
  return p.secrets ? secretUtils.buildSecretConfig(p.secrets, p.secret) : p.secret;
};
const plaintexts = ["hello-plaintext", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}", "ünïcødé ✓"];
const envelopes = [];
for (const phase of ["A", "B", "C"]) {
  for (const plaintext of plaintexts) {
    const sealed = await crypto.symmetricEncrypt({ key: config(phase), data: plaintext });
    const back = await crypto.symmetricDecrypt({ key: config("C"), data: sealed });
    if (back !== plaintext) throw new Error("configuration C does not open an earlier envelope");
    envelopes.push({ sealedBy: phase, plaintext, sealed });
  }
}
// What fails, and Better Auth's words for it.
const attempt = async (key, data) => {
  try {
    return { ok: true, plaintext: await crypto.symmetricDecrypt({ key, data }) };
  } catch (e) {
    return { ok: false, error: String(e.message || e) };
  }
};
const byPhase = (p) => envelopes.find((e) => e.sealedBy === p).sealed;
const failures = [
  { case: "version 1 retired", secrets: [{ version: 2, value: S2 }], secret: S0, sealed: byPhase("B") },
  { case: "no legacy secret for un-versioned data", secrets: [{ version: 2, value: S2 }, { version: 1, value: S1 }], secret: "", sealed: byPhase("A") },
  { case: "versioned envelope under a plain secret", secrets: null, secret: S2, sealed: byPhase("C") },
];
for (const f of failures) {
  const key = f.secrets ? secretUtils.buildSecretConfig(f.secrets, f.secret) : f.secret;
  f.result = await attempt(key, f.sealed);
  if (f.result.ok) throw new Error(`${f.case}: decrypted`);
}

// BETTER_AUTH_SECRETS: parseSecretsEnv, then validateSecretsArray as
// createAuthContext does.
const warnings = [];
const logger = { warn: (m) => warnings.push(m) };
const envInputs = [
  "2:" + S2 + ",1:" + S1,
  " 2 : " + S2 + " , 1:" + S1 + " ",
  "0:" + S2,
  "3:" + S2 + ",1:" + S1,
  "2:a:b:c-" + S2,
  "2:short",
  "2:" + S2 + ",1:x",
  "2abc:" + S2,
  "+2:" + S2,
  "02:" + S2,
  S2,
  "2:" + S2 + ",",
  "2:" + S2 + ",,1:" + S1,
  "-1:" + S2,
  "x:" + S2,
  ":" + S2,
  "2:",
  "2:   ",
  "2:" + S2 + ",2:" + S1,
  " ",
];
const envCases = [];
for (const input of envInputs) {
  warnings.length = 0;
  try {
    const parsed = secretUtils.parseSecretsEnv(input);
    if (parsed) secretUtils.validateSecretsArray(parsed, logger);
    envCases.push({ input, ok: true, secrets: parsed, warnings: [...warnings] });
  } catch (e) {
    envCases.push({ input, ok: false, error: String(e.message || e) });
  }
}

// Runtime: which secret verifies session cookies and email-verification
// tokens once C is current.
const getSession = async (auth, cookie) =>
  (await send(auth, { method: "GET", path: `${BASE_PATH}/get-session`, headers: { cookie } })).response.body;
const ann = users.find((u) => u.phase === "A");
const verify = async (secret) => {
  const token = await crypto.signJWT({ email: ann.email, userId: ann.userId }, secret, 3600);
  const r = await send(authC, { method: "GET", path: `${BASE_PATH}/verify-email?token=${encodeURIComponent(token)}` });
  return { status: r.response.status, body: r.response.body };
};
const runtime = {
  description:
    "Requests to configuration C (secrets [2,1], secret S0): get-session with the session cookie minted in each phase " +
    "(signed with that phase's current secret), and verify-email with an HS256 token signed by each secret.",
  getSessionWithCookieOf: {
    A: (await getSession(authC, sessionCookies.A)) !== null,
    B: (await getSession(authC, sessionCookies.B)) !== null,
    C: (await getSession(authC, sessionCookies.C)) !== null,
  },
  verifyEmailTokenSignedWith: { S0: await verify(S0), S1: await verify(S1), S2: await verify(S2) },
};
if (runtime.getSessionWithCookieOf.C !== true) throw new Error("C's own cookie was refused");

writeJSON(OUT, {
  generatedBy: "tests/compat/gen-rotation.mjs",
  generatedAt: new Date().toISOString(),
  versions: versions(),
  baseURL: BASE_URL,
  secrets: { S0, S1, S2 },
  phases: PHASES,
  users,
  rows,
  envelopes,
  failures,
  envCases,
  runtime,
});
console.log(`wrote ${OUT}`);
