// Generates auth/testdata/betterauth-vectors.json by running Better Auth itself
// in-process (memory adapter) and with its own crypto helpers.
//
//   cd tests/compat && npm ci && node gen-vectors.mjs
//
// Random parts (tokens, ids, salts, nonces, timestamps) differ on every run;
// every vector is self-consistent and was produced by Better Auth's own code.

import { join } from "node:path";
import {
  loadBetterAuth, versions, newDB, snapshotDB, dateFields, send, cookieFrom, parseSetCookie,
  writeJSON, TESTDATA, SECRET, BASE_URL, BASE_PATH,
} from "./harness.mjs";

const { betterAuth, memoryAdapter, bearer, jwt, crypto, betterCall } = await loadBetterAuth();

const OUT = join(TESTDATA, "betterauth-vectors.json");

function makeAuth(secret, db, extraPlugins = []) {
  return betterAuth({
    database: memoryAdapter(db),
    secret,
    baseURL: BASE_URL,
    emailAndPassword: { enabled: true },
    plugins: [bearer(), ...extraPlugins],
    logger: { disabled: true },
  });
}

const JSON_HEADERS = { "content-type": "application/json", origin: BASE_URL, "user-agent": "mana-auth-vectors/1" };

// ---------------------------------------------------------------------------
// 1. Cookie signing: real sign-up responses under several secrets, plus
//    better-call's serializeSignedCookie on fixed values.
// ---------------------------------------------------------------------------
const cookieSigning = [];
const secrets = [
  SECRET,
  "another-secret-with-enough-entropy-0123456789",
  "sécret-ключ-🔑-with-non-ascii-utf8-bytes-0123456789",
];
for (const [i, secret] of secrets.entries()) {
  const db = newDB();
  const auth = makeAuth(secret, db);
  const step = await send(auth, {
    method: "POST",
    path: `${BASE_PATH}/sign-up/email`,
    headers: JSON_HEADERS,
    body: { name: `Vec ${i}`, email: `vec${i}@example.com`, password: "password123" },
  });
  if (step.response.status !== 200) throw new Error(`sign-up failed: ${JSON.stringify(step.response)}`);
  const token = step.response.body.token;
  if (db.session[0].token !== token) throw new Error("token in body != token in DB");
  const line = step.response.setCookie.find((l) => l.startsWith("better-auth.session_token="));
  cookieSigning.push({
    source: "sign-up Set-Cookie",
    secret,
    value: token,
    cookieValue: cookieFrom(step),
    setCookie: line,
    setAuthToken: step.response.headers["set-auth-token"],
  });
}
const fixedValues = [
  "kqV1utL0iY7KAYxWIXz1Qib3nvv2VUYw", // the spec §2.2 token
  "true", // dont_remember
  "2fa-AbCdEfGhIjKlMnOpQrSt", // shape of a two_factor cookie value
  "a b/c+d=é.x", // characters encodeURIComponent escapes, and a dot inside the value
];
for (const secret of [SECRET, secrets[2]]) {
  for (const value of fixedValues) {
    const line = await betterCall.serializeSignedCookie("better-auth.session_token", value, secret, {
      path: "/", httpOnly: true, sameSite: "lax", maxAge: 604800,
    });
    const parsed = parseSetCookie(line);
    cookieSigning.push({ source: "better-call serializeSignedCookie", secret, value, cookieValue: parsed.value, setCookie: line });
  }
}
// Cross-check every vector with makeSignature from better-auth/crypto.
for (const v of cookieSigning) {
  const sig = await crypto.makeSignature(v.value, v.secret);
  if (encodeURIComponent(`${v.value}.${sig}`) !== v.cookieValue) throw new Error(`signature mismatch for ${v.value}`);
  v.signature = sig;
}

// ---------------------------------------------------------------------------
// 2. Password hashes (scrypt via better-auth/crypto hashPassword).
// ---------------------------------------------------------------------------
const pw128 = Array.from({ length: 128 }, (_, i) => "Aa0!xY9-"[i % 8]).join("");
const passwordCases = [
  { label: "spec vector password", password: "correct horse" },
  { label: "exactly 8 chars (min length)", password: "abcdefgh" },
  { label: "exactly 128 chars (max length)", password: pw128 },
  { label: "ascii with symbols", password: "P@ssw0rd!\"#$%&'()*+,-./:;<=>?[\\]^_`{|}~" },
  { label: "fi ligature U+FB01 (NFKC -> 'fi')", password: "\uFB01nance-secret", equivalent: ["finance-secret"] },
  { label: "A-ring composed U+00C5", password: "\u00C5ngstr\u00F6m-pass", equivalent: ["A\u030Angstro\u0308m-pass", "\u212Bngstr\u00F6m-pass"] },
  { label: "A-ring decomposed A+U+030A", password: "A\u030Angstro\u0308m-pass", equivalent: ["\u00C5ngstr\u00F6m-pass"] },
  { label: "full-width digits U+FF11..U+FF18 (NFKC -> '12345678')", password: "\uFF11\uFF12\uFF13\uFF14\uFF15\uFF16\uFF17\uFF18", equivalent: ["12345678"] },
  { label: "full-width latin + ideographic space", password: "\uFF30\uFF41\uFF53\uFF53\u3000\uFF57\uFF4F\uFF52\uFF44", equivalent: ["Pass word"] },
  { label: "emoji and CJK (no NFKC change)", password: "密码🔑пароль-ok" },
];
const passwordHashes = [];
for (const c of passwordCases) {
  const hash = await crypto.hashPassword(c.password);
  const nfkc = c.password.normalize("NFKC");
  const verifies = [];
  for (const p of [c.password, ...(c.equivalent || [])]) {
    verifies.push({ password: p, ok: await crypto.verifyPassword({ hash, password: p }) });
  }
  // A near miss must not verify.
  verifies.push({ password: c.password + "x", ok: await crypto.verifyPassword({ hash, password: c.password + "x" }) });
  passwordHashes.push({
    label: c.label,
    password: c.password,
    nfkc,
    nfkcDiffers: nfkc !== c.password,
    jsLength: c.password.length, // UTF-16 code units: what min/max length checks count
    utf8Bytes: Buffer.byteLength(c.password, "utf8"),
    hash,
    verifies,
  });
}

// ---------------------------------------------------------------------------
// 3. Full sign-up transcript (rememberMe default) + a rememberMe:false sign-in
//    on the same user: rows exactly as stored in the memory DB.
// ---------------------------------------------------------------------------
const db = newDB();
const auth = makeAuth(SECRET, db);
const signUpBody = { name: "Ada Lovelace", email: "Ada@Example.com", password: "correct horse battery" };
const signUp = await send(auth, {
  method: "POST", path: `${BASE_PATH}/sign-up/email`, headers: JSON_HEADERS, body: signUpBody,
});
const afterSignUp = snapshotDB(db);
const signUpDateFields = {
  user: dateFields(db.user), account: dateFields(db.account), session: dateFields(db.session),
};
const getSess = await send(auth, {
  method: "GET", path: `${BASE_PATH}/get-session`,
  headers: { cookie: `better-auth.session_token=${cookieFrom(signUp)}` },
});
const dr = await send(auth, {
  method: "POST", path: `${BASE_PATH}/sign-in/email`, headers: JSON_HEADERS,
  body: { email: "ada@example.com", password: "correct horse battery", rememberMe: false },
});
const afterDR = snapshotDB(db);
const drToken = dr.response.body.token;
const drCookie = cookieFrom(dr, "better-auth.dont_remember");
const drLine = dr.response.setCookie.find((l) => l.startsWith("better-auth.dont_remember="));
const drGet = await send(auth, {
  method: "GET", path: `${BASE_PATH}/get-session`,
  headers: { cookie: `better-auth.session_token=${cookieFrom(dr)}; better-auth.dont_remember=${drCookie}` },
});

const session = {
  description:
    "Real POST /sign-up/email against Better Auth with the memory adapter (rememberMe default). " +
    "db holds the rows exactly as stored (JS Date values rendered with toISOString; dateFields lists them). " +
    "Keys absent from a row were never written by Better Auth (the memory adapter stores no nulls), e.g. user.image. " +
    "A Go test can insert db.user/db.account/db.session into its store and send " +
    "'Cookie: better-auth.session_token=<cookieValue>' (or 'Authorization: Bearer <setAuthToken>') to GET /api/auth/get-session.",
  secret: SECRET,
  baseURL: BASE_URL,
  password: signUpBody.password,
  token: signUp.response.body.token,
  cookieValue: cookieFrom(signUp),
  setAuthToken: signUp.response.headers["set-auth-token"],
  request: signUp.request,
  response: signUp.response,
  db: { user: afterSignUp.user, account: afterSignUp.account, session: afterSignUp.session },
  dateFields: signUpDateFields,
  getSession: { request: getSess.request, response: getSess.response },
};

const dontRemember = {
  description:
    "Signed dont_remember cookie (value 'true') as set by POST /sign-in/email with rememberMe:false, " +
    "the session row it created (expiresAt = createdAt + 1 day) and a get-session carrying both cookies.",
  secret: SECRET,
  value: "true",
  cookieValue: drCookie,
  setCookie: drLine,
  signInRequest: dr.request,
  signInResponse: dr.response,
  sessionRow: afterDR.session.find((s) => s.token === drToken),
  getSession: { request: drGet.request, response: drGet.response },
};
if (drCookie !== cookieSigning.find((v) => v.value === "true" && v.secret === SECRET).cookieValue) {
  throw new Error("dont_remember cookie differs from serializeSignedCookie('true')");
}

// ---------------------------------------------------------------------------
// 4. Cheap extras: XChaCha20-Poly1305 envelope, HS256 JWT (email verification
//    style), and a JWT-plugin run (jwks row, /jwks, /token, set-auth-jwt).
// ---------------------------------------------------------------------------
const symmetric = [];
for (const data of ["hello-plaintext", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}", "ünïcødé ✓"]) {
  const ciphertext = await crypto.symmetricEncrypt({ key: SECRET, data });
  const back = await crypto.symmetricDecrypt({ key: SECRET, data: ciphertext });
  if (back !== data) throw new Error("symmetric round trip failed");
  symmetric.push({ key: SECRET, plaintext: data, ciphertextHex: ciphertext });
}

const hsPayload = { email: "ada@example.com", userId: session.db.user[0].id };
const hsToken = await crypto.signJWT(hsPayload, SECRET, 3600);
const hs256 = {
  description: "better-auth/crypto signJWT (HS256, key = UTF-8 secret), as used for email-verification links",
  secret: SECRET,
  payload: hsPayload,
  token: hsToken,
  decoded: await crypto.verifyJWT(hsToken, SECRET),
};

const jdb = { ...newDB(), jwks: [] };
const jauth = makeAuth(SECRET, jdb, [jwt()]);
const jsu = await send(jauth, {
  method: "POST", path: `${BASE_PATH}/sign-up/email`, headers: JSON_HEADERS,
  body: { name: "Jay Doe", email: "jay@example.com", password: "password123" },
});
const jcookie = `better-auth.session_token=${cookieFrom(jsu)}`;
const jtok = await send(jauth, { method: "GET", path: `${BASE_PATH}/token`, headers: { cookie: jcookie } });
const jks = await send(jauth, { method: "GET", path: `${BASE_PATH}/jwks` });
const jgs = await send(jauth, { method: "GET", path: `${BASE_PATH}/get-session`, headers: { cookie: jcookie } });
const decodeJWT = (t) => {
  const [h, p] = t.split(".");
  const d = (s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  return { header: d(h), payload: d(p) };
};
const jwtPlugin = {
  description:
    "jwt() plugin with default options. jwksRow is the stored row (privateKey = JSON-quoted hex XChaCha20-Poly1305 envelope). " +
    "token is GET /token's JWT; setAuthJwt is the header from GET /get-session.",
  secret: SECRET,
  baseURL: BASE_URL,
  jwksRow: snapshotDB(jdb).jwks[0],
  jwksResponse: jks.response,
  token: jtok.response.body.token,
  tokenDecoded: decodeJWT(jtok.response.body.token),
  getSessionResponseHeaders: jgs.response.headers,
  setAuthJwt: jgs.response.headers["set-auth-jwt"],
  setAuthJwtDecoded: jgs.response.headers["set-auth-jwt"] ? decodeJWT(jgs.response.headers["set-auth-jwt"]) : null,
  user: snapshotDB(jdb).user[0],
};
if (jwtPlugin.jwksRow) {
  const enc = JSON.parse(jwtPlugin.jwksRow.privateKey);
  jwtPlugin.privateKeyDecrypted = JSON.parse(await crypto.symmetricDecrypt({ key: SECRET, data: enc }));
}

writeJSON(OUT, {
  generatedBy: "tests/compat/gen-vectors.mjs",
  generatedAt: new Date().toISOString(),
  versions: versions(),
  cookieSigning,
  passwordHashes,
  dontRemember,
  session,
  symmetricEncryption: symmetric,
  hs256Jwt: hs256,
  jwtPlugin,
});
console.log(`wrote ${OUT}`);
