// Generates the vectors of the internal codec packages by running Better
// Auth itself (memory adapter) and jose:
//
//   internal/hs256/testdata/betterauth-hs256.json — HS256 JWTs Better Auth
//     signs: email-verification links (sign-up, change-email verification
//     and confirmation, captured from its sendVerificationEmail and
//     sendChangeEmailConfirmation), a session_data cookie of the "jwt"
//     cookie-cache strategy, and signJWT under a non-ASCII secret.
//   internal/cookiecodec/testdata/betterauth-cookiecache.json — session_data
//     cookies of the "compact" and "jwe" strategies set by a Better Auth
//     server (a user name JSON escapes differently in Go and JavaScript),
//     and a JWE without kid (jose's EncryptJWT under the same key), which
//     Better Auth's symmetricDecodeJWT opens by trying each secret.
//
//   cd tests/compat && npm ci && node gen-codec-vectors.mjs
//
// Tokens, ids and times differ on every run; each vector is self-consistent
// and was produced by Better Auth's (or jose's) own code.

import { hkdfSync, randomUUID } from "node:crypto";
import { join } from "node:path";
import { loadBetterAuth, newDB, versions, writeJSON, REPO, SECRET, BASE_URL } from "./harness.mjs";

const { betterAuth, memoryAdapter, crypto } = await loadBetterAuth();
const { EncryptJWT } = await import("jose");

// A name whose JSON differs between encoding/json (\u003c, \u0026, \u2028)
// and JSON.stringify (the characters themselves).
const TRICKY_NAME = `<b>Tom & "Jerry"</b> \u2028 \u{1F600} é`;

function makeAuth(db, options = {}) {
  return betterAuth({
    database: memoryAdapter(db),
    secret: SECRET,
    baseURL: BASE_URL,
    emailAndPassword: { enabled: true },
    rateLimit: { enabled: false },
    logger: { disabled: true },
    ...options,
  });
}

function request(auth, method, path, body, cookie) {
  return auth.handler(
    new Request(BASE_URL + "/api/auth" + path, {
      method,
      headers: {
        ...(body ? { "content-type": "application/json" } : {}),
        ...(cookie ? { cookie } : {}),
        origin: BASE_URL,
      },
      body: body ? JSON.stringify(body) : undefined,
    }),
  );
}

async function ok(res, what) {
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return res;
}

// cookies returns the Cookie header a browser sends after res.
function cookies(res) {
  return res.headers
    .getSetCookie()
    .map((l) => l.split(";")[0])
    .filter((nv) => !nv.endsWith("="))
    .join("; ");
}

function cookieValue(res, name) {
  const line = res.headers.getSetCookie().find((l) => l.startsWith(name + "="));
  if (!line) throw new Error(`no ${name} cookie in ${res.headers.getSetCookie()}`);
  return decodeURIComponent(line.split(";")[0].slice(name.length + 1));
}

function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

// ---------------------------------------------------------------------------
// HS256: email-verification tokens through the real routes.
// ---------------------------------------------------------------------------
const hs256 = [];
const hsVector = (source, secret, token) => {
  const c = claimsOf(token);
  hs256.push({ source, secret, token, iat: c.iat, exp: c.exp, claims: c });
};
{
  const mails = [];
  const auth = makeAuth(newDB(), {
    emailVerification: {
      sendOnSignUp: true,
      sendVerificationEmail: async ({ token }) => mails.push({ kind: "verification", token }),
    },
    user: {
      changeEmail: {
        enabled: true,
        sendChangeEmailConfirmation: async ({ token }) => mails.push({ kind: "confirmation", token }),
      },
    },
  });
  let res = await ok(await request(auth, "POST", "/sign-up/email",
    { name: "Ada", email: "Ada@Example.com", password: "correct horse battery" }), "sign-up");
  let cookie = cookies(res);
  const signUp = mails.pop();
  hsVector("sign-up verification link (email, userId)", SECRET, signUp.token);

  await ok(await request(auth, "POST", "/change-email", { newEmail: "ada.new@example.com" }, cookie), "change-email (unverified)");
  hsVector("change-email verification link of an unverified user (updateTo, requestType change-email-verification)", SECRET, mails.pop().token);

  res = await ok(await request(auth, "GET", "/verify-email?token=" + signUp.token, undefined, cookie), "verify-email");
  cookie = cookies(res) || cookie;
  await ok(await request(auth, "POST", "/change-email", { newEmail: "ada.next@example.com" }, cookie), "change-email (verified)");
  hsVector("change-email confirmation link of a verified user (updateTo, requestType change-email-confirmation)", SECRET, mails.pop().token);
}
{
  const auth = makeAuth(newDB(), { session: { cookieCache: { enabled: true, strategy: "jwt" } } });
  const res = await ok(await request(auth, "POST", "/sign-up/email",
    { name: TRICKY_NAME, email: "jwt@example.com", password: "correct horse battery" }), "sign-up (jwt cache)");
  hsVector("session_data cookie of the jwt cookie-cache strategy", SECRET, cookieValue(res, "better-auth.session_data"));
}
{
  const secret = "sécret-ключ-🔑-with-non-ascii-utf8-bytes-0123456789";
  hsVector("signJWT under a non-ASCII secret, non-ASCII claims", secret,
    await crypto.signJWT({ email: "zoë@example.com", note: "日本 \u2028 <&>" }, secret, 600));
}

// ---------------------------------------------------------------------------
// Cookie cache: compact and jwe session_data cookies, and a JWE without kid.
// ---------------------------------------------------------------------------
const cookieCache = [];
for (const strategy of ["compact", "jwe"]) {
  const auth = makeAuth(newDB(), { session: { cookieCache: { enabled: true, strategy } } });
  const res = await ok(await request(auth, "POST", "/sign-up/email",
    { name: TRICKY_NAME, email: `${strategy}@example.com`, password: "correct horse battery" }), `sign-up (${strategy} cache)`);
  const got = await (await ok(await request(auth, "GET", "/get-session", undefined, cookies(res)), "get-session")).json();
  cookieCache.push({
    source: `session_data cookie of the ${strategy} cookie-cache strategy`,
    strategy,
    secret: SECRET,
    value: cookieValue(res, "better-auth.session_data"),
    now: Math.floor(Date.now() / 1000),
    sessionToken: got.session.token,
    userName: got.user.name,
  });
}
{
  // Better Auth's key for the cache: HKDF-SHA256(secret, "better-auth-session",
  // "BetterAuth.js Generated Encryption Key", 64 bytes).
  const key = new Uint8Array(hkdfSync("sha256", SECRET, "better-auth-session", "BetterAuth.js Generated Encryption Key", 64));
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    session: { token: "no-kid-session-token", userId: "u1" },
    user: { id: "u1", name: TRICKY_NAME },
    updatedAt: Date.now(),
    version: "1",
  };
  const value = await new EncryptJWT(payload)
    .setProtectedHeader({ alg: "dir", enc: "A256CBC-HS512" })
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .setJti(randomUUID())
    .encrypt(key);
  cookieCache.push({
    source: "JWE without kid (jose EncryptJWT under Better Auth's key), which symmetricDecodeJWT opens by trying each secret",
    strategy: "jwe",
    secret: SECRET,
    value,
    now,
    sessionToken: payload.session.token,
    userName: payload.user.name,
  });
}

const meta = { generatedBy: "tests/compat/gen-codec-vectors.mjs", generatedAt: new Date().toISOString(), versions: versions() };
writeJSON(join(REPO, "internal", "hs256", "testdata", "betterauth-hs256.json"), { ...meta, tokens: hs256 });
writeJSON(join(REPO, "internal", "cookiecodec", "testdata", "betterauth-cookiecache.json"), { ...meta, cookies: cookieCache });
console.log(`wrote ${hs256.length} HS256 tokens and ${cookieCache.length} cookie-cache values`);
