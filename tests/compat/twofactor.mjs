// Drives a server's two-factor routes with Better Auth's own JS client and
// its twoFactorClient plugin (better-auth/client/plugins), computing TOTP
// codes from the otpauth URI with the `otpauth` package.
//
//   node twofactor.mjs http://127.0.0.1:8080      (or BASE_URL=... node twofactor.mjs)
//
// The server must serve Better Auth's routes under <baseURL>/api/auth with
// the two-factor plugin and rate limiting off. lib.mjs's cookie jar and
// Origin header stand in for the browser.
//
// Prints one line per check and finally "N passed, M failed"; exits 1 on
// any failure.

import { createAuthClient } from "better-auth/client";
import { twoFactorClient } from "better-auth/client/plugins";
import * as OTPAuth from "otpauth";
import { harness } from "./lib.mjs";

const baseURL = process.argv[2] || process.env.BASE_URL;
if (!baseURL) {
  console.error("usage: node twofactor.mjs <baseURL>   (or BASE_URL=...)");
  process.exit(2);
}
// Set by the Go test when the server is real Better Auth, which accepts a
// used TOTP code again inside its window (our server refuses replays).
const REFERENCE = process.env.TWOFACTOR_REFERENCE === "1";
const { jar, jarFetch, check, summary } = harness(baseURL);

// ---------------------------------------------------------------- client
let redirects = [];
const client = createAuthClient({
  baseURL,
  fetchOptions: { customFetchImpl: jarFetch },
  plugins: [
    twoFactorClient({
      onTwoFactorRedirect: (ctx) => {
        redirects.push(ctx);
      },
    }),
  ],
});

// COOKIE_PREFIX names the server's cookies ("mana" for the mana-auth
// reference server); Better Auth's default is "better-auth".
const COOKIE_PREFIX = process.env.COOKIE_PREFIX || "better-auth";
const SESSION_COOKIE = `${COOKIE_PREFIX}.session_token`;
const TWO_FACTOR_COOKIE = `${COOKIE_PREFIX}.two_factor`;
const TRUST_COOKIE = `${COOKIE_PREFIX}.trust_device`;
// TWO_FACTOR_METHODS is the twoFactorMethods list the server announces,
// comma-separated: the factors the user enrolled ("totp" here).
const TWO_FACTOR_METHODS = JSON.stringify((process.env.TWO_FACTOR_METHODS || "totp").split(","));
const uniq = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const email = `tf.${uniq}@example.com`;
const password = "client-password-123";
let totp; // OTPAuth.TOTP from the otpauth URI
let backupCodes = [];
let lastCode = "";

// A code no earlier than any code used before: the server accepts each
// time step once, so the next code comes from a later step.
function nextCode() {
  for (let step = 0; step <= 1; step++) {
    const code = totp.generate({ timestamp: Date.now() + step * 30_000 });
    if (code !== lastCode) {
      lastCode = code;
      return code;
    }
  }
  throw new Error("no fresh code");
}

async function signInExpectingSecondFactor(expect) {
  redirects = [];
  const { data, error } = await client.signIn.email({ email, password });
  expect(error === null, "sign-in error is null", error);
  expect(data?.twoFactorRedirect === true, "data.twoFactorRedirect", data);
  expect(redirects.length === 1, "onTwoFactorRedirect called once", redirects.length);
  expect(JSON.stringify(redirects[0]?.twoFactorMethods) === TWO_FACTOR_METHODS, "twoFactorMethods", redirects[0]);
  expect(!jar.get(SESSION_COOKIE), "no session cookie", jar.get(SESSION_COOKIE));
  expect(!!jar.get(TWO_FACTOR_COOKIE), "two_factor cookie set", jar.get(TWO_FACTOR_COOKIE));
  const s = await client.getSession();
  expect(s.data === null, "get-session is null before the second factor", s.data);
}

await check("sign-up", async (expect) => {
  const { data, error } = await client.signUp.email({ name: "Two Factor", email, password });
  expect(error === null, "error is null", error);
  expect(data?.user?.twoFactorEnabled === false, "user.twoFactorEnabled === false", data?.user);
});

await check("enable without password fails", async (expect) => {
  const { data, error } = await client.twoFactor.enable({});
  expect(data === null, "data is null", data);
  expect(error?.status === 400, "error.status === 400", error?.status);
});

await check("enable with a wrong password fails", async (expect) => {
  const { error } = await client.twoFactor.enable({ password: "wrong-password-000" });
  expect(error?.status === 400 && error?.code === "INVALID_PASSWORD", "400 INVALID_PASSWORD", error);
});

await check("enable", async (expect) => {
  const { data, error } = await client.twoFactor.enable({ password, issuer: "Compat" });
  expect(error === null, "error is null", error);
  expect(data?.method === "totp", "data.method", data?.method);
  expect(typeof data?.totpURI === "string", "data.totpURI", data?.totpURI);
  expect(Array.isArray(data?.backupCodes) && data.backupCodes.length === 10, "10 backup codes", data?.backupCodes);
  expect(data?.backupCodes?.every((c) => /^[A-Za-z0-9]{5}-[A-Za-z0-9]{5}$/.test(c)), "codes look like XXXXX-XXXXX", data?.backupCodes);
  backupCodes = data?.backupCodes ?? [];
  totp = OTPAuth.URI.parse(data.totpURI);
  expect(totp instanceof OTPAuth.TOTP, "otpauth parses the URI as TOTP", data.totpURI);
  expect(totp.issuer === "Compat" && totp.label === email, "issuer and label", { issuer: totp.issuer, label: totp.label });
  expect(totp.algorithm === "SHA1" && totp.digits === 6 && totp.period === 30, "SHA1/6/30", totp);
});

await check("get-totp-uri", async (expect) => {
  const { data, error } = await client.twoFactor.getTotpUri({ password });
  expect(error === null, "error is null", error);
  const again = OTPAuth.URI.parse(data?.totpURI ?? "");
  expect(again.secret.base32 === totp.secret.base32, "same secret", data?.totpURI);
});

await check("verify-totp turns two-factor on", async (expect) => {
  const { data, error } = await client.twoFactor.verifyTotp({ code: nextCode() });
  expect(error === null, "error is null", error);
  expect(typeof data?.token === "string", "data.token", data);
  const s = await client.getSession();
  expect(s.data?.user?.twoFactorEnabled === true, "user.twoFactorEnabled === true", s.data?.user);
});

await check("sign-out", async (expect) => {
  const { error } = await client.signOut();
  expect(error === null, "error is null", error);
});

await check("sign-in asks for the second factor", signInExpectingSecondFactor);

await check("wrong code is refused", async (expect) => {
  const { data, error } = await client.twoFactor.verifyTotp({ code: lastCode === "000000" ? "111111" : "000000" });
  expect(data === null, "data is null", data);
  expect(error?.status === 401 && error?.code === "INVALID_CODE", "401 INVALID_CODE", error);
});

if (!REFERENCE) {
  await check("a used code is refused", async (expect) => {
    const { error } = await client.twoFactor.verifyTotp({ code: lastCode });
    expect(error?.status === 401 && error?.code === "INVALID_CODE", "401 INVALID_CODE", error);
  });
}

await check("verify-totp signs in", async (expect) => {
  const { data, error } = await client.twoFactor.verifyTotp({ code: nextCode(), trustDevice: true });
  expect(error === null, "error is null", error);
  expect(typeof data?.token === "string" && data?.user?.email === email, "data.token and data.user", data);
  expect(!!jar.get(SESSION_COOKIE), "session cookie set", jar.get(SESSION_COOKIE));
  expect(!jar.get(TWO_FACTOR_COOKIE), "two_factor cookie removed", jar.get(TWO_FACTOR_COOKIE));
  expect(!!jar.get(TRUST_COOKIE), "trust_device cookie set", jar.get(TRUST_COOKIE));
  const s = await client.getSession();
  expect(s.data?.session?.token === data?.token, "get-session has the new session", s.data?.session?.token);
});

await check("trusted device skips the second factor", async (expect) => {
  await client.signOut();
  const before = jar.get(TRUST_COOKIE);
  redirects = [];
  const { data, error } = await client.signIn.email({ email, password });
  expect(error === null, "error is null", error);
  expect(typeof data?.token === "string" && !data?.twoFactorRedirect, "signed in directly", data);
  expect(redirects.length === 0, "onTwoFactorRedirect not called", redirects.length);
  expect(!!jar.get(TRUST_COOKIE) && jar.get(TRUST_COOKIE) !== before, "trust_device cookie rotated", jar.get(TRUST_COOKIE));
  await client.signOut();
  jar.store([`${TRUST_COOKIE}=; Max-Age=0`]);
});

await check("backup code signs in", async (expect) => {
  await signInExpectingSecondFactor(expect);
  const { data, error } = await client.twoFactor.verifyBackupCode({ code: backupCodes[0] });
  expect(error === null, "error is null", error);
  expect(typeof data?.token === "string", "data.token", data);
  expect(!!jar.get(SESSION_COOKIE), "session cookie set", jar.get(SESSION_COOKIE));
  await client.signOut();
});

await check("a backup code works once", async (expect) => {
  await signInExpectingSecondFactor(expect);
  const { data, error } = await client.twoFactor.verifyBackupCode({ code: backupCodes[0] });
  expect(data === null, "data is null", data);
  expect(error?.status === 401 && error?.code === "INVALID_BACKUP_CODE", "401 INVALID_BACKUP_CODE", error);
  const other = await client.twoFactor.verifyBackupCode({ code: backupCodes[1] });
  expect(other.error === null, "another code works", other.error);
});

await check("generate-backup-codes", async (expect) => {
  const { data, error } = await client.twoFactor.generateBackupCodes({ password });
  expect(error === null, "error is null", error);
  expect(data?.status === true && data?.backupCodes?.length === 10, "status and 10 codes", data);
  const old = await client.twoFactor.verifyBackupCode({ code: backupCodes[2] });
  expect(old.error?.code === "INVALID_BACKUP_CODE", "old codes are gone", old.error);
});

await check("disable", async (expect) => {
  const { data, error } = await client.twoFactor.disable({ password });
  expect(error === null, "error is null", error);
  expect(data?.status === true, "data.status", data);
  const s = await client.getSession();
  expect(s.data?.user?.twoFactorEnabled === false, "user.twoFactorEnabled === false", s.data?.user);
  await client.signOut();
  redirects = [];
  const si = await client.signIn.email({ email, password });
  expect(typeof si.data?.token === "string" && redirects.length === 0, "sign-in without second factor", si.data);
});

await check("verify without a pending sign-in", async (expect) => {
  await client.signOut();
  const { error } = await client.twoFactor.verifyTotp({ code: "123456" });
  expect(error?.status === 401 && error?.code === "INVALID_TWO_FACTOR_COOKIE", "401 INVALID_TWO_FACTOR_COOKIE", error);
});

summary();
