// Drives a server with the real Better Auth JS client (better-auth/client).
//
//   node client.mjs http://127.0.0.1:8080        (or BASE_URL=... node client.mjs)
//
// The server must serve Better Auth's routes under <baseURL>/api/auth. Node's
// fetch keeps no cookies and sends no Origin (but always "Sec-Fetch-Mode: cors",
// which makes Better Auth demand an Origin on cookie-less sign-in/sign-up), so
// a tiny cookie jar and an Origin header (= the base URL's origin, i.e. what a
// same-origin browser page would send) are added by a custom fetch.
//
// Prints one line per check and finally "N passed, M failed"; exits 1 on any
// failure.

import { createAuthClient } from "better-auth/client";
import { harness } from "./lib.mjs";

const baseURL = process.argv[2] || process.env.BASE_URL || process.env.BETTER_AUTH_URL;
if (!baseURL) {
  console.error("usage: node client.mjs <baseURL>   (or BASE_URL=...)");
  process.exit(2);
}

const { jar, jarFetch, check, summary, describe, log } = harness(baseURL);

const client = createAuthClient({
  baseURL,
  fetchOptions: { customFetchImpl: jarFetch },
});

const isDate = (v) => v instanceof Date && !isNaN(v.getTime());
// COOKIE_PREFIX names the server's cookies ("mana" for the mana-auth
// reference server); Better Auth's default is "better-auth".
const COOKIE_PREFIX = process.env.COOKIE_PREFIX || "better-auth";
const SESSION_COOKIE = `${COOKIE_PREFIX}.session_token`;
const uniq = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const email = `Client.${uniq}@Example.com`;
const emailLower = email.toLowerCase();
const password = "client-password-123";
let signUpToken;
let signInToken;

await check("get-session without cookie is null", async (expect) => {
  const { data, error } = await client.getSession();
  expect(error === null, "error is null", error);
  expect(data === null, "data is null", data);
});

await check("sign-up", async (expect) => {
  const { data, error } = await client.signUp.email({ name: "Client Test", email, password });
  expect(error === null, "error is null", error);
  expect(data && typeof data.token === "string" && data.token.length > 0, "data.token is a non-empty string", data?.token);
  expect(data?.user?.email === emailLower, `data.user.email is ${emailLower}`, data?.user?.email);
  expect(data?.user?.name === "Client Test", "data.user.name", data?.user?.name);
  expect(data?.user?.emailVerified === false, "data.user.emailVerified === false", data?.user?.emailVerified);
  expect(typeof data?.user?.id === "string" && data.user.id.length > 0, "data.user.id", data?.user?.id);
  expect(isDate(data?.user?.createdAt), "data.user.createdAt is a Date", data?.user?.createdAt);
  expect(isDate(data?.user?.updatedAt), "data.user.updatedAt is a Date", data?.user?.updatedAt);
  expect(!!jar.get(SESSION_COOKIE), `${SESSION_COOKIE} cookie stored`, [...jar.cookies.keys()]);
  signUpToken = data?.token;
});

await check("get-session after sign-up", async (expect) => {
  const { data, error } = await client.getSession();
  expect(error === null, "error is null", error);
  expect(data?.user?.email === emailLower, "user.email", data?.user?.email);
  expect(data?.session?.token === signUpToken, "session.token equals sign-up token", data?.session?.token);
});

await check("sign-in", async (expect) => {
  jar.clear();
  const { data, error } = await client.signIn.email({ email, password });
  expect(error === null, "error is null", error);
  expect(data?.redirect === false, "data.redirect === false", data?.redirect);
  expect(typeof data?.token === "string" && data.token.length > 0, "data.token", data?.token);
  expect(data?.token !== signUpToken, "a new session token", data?.token);
  expect(data?.user?.email === emailLower, "data.user.email", data?.user?.email);
  expect(isDate(data?.user?.createdAt), "data.user.createdAt is a Date", data?.user?.createdAt);
  expect(!("url" in (data || {})) || data.url === undefined, "no url without callbackURL", data?.url);
  const c = jar.get(SESSION_COOKIE);
  expect(!!c, `${SESSION_COOKIE} cookie stored`, [...jar.cookies.keys()]);
  expect(c && decodeURIComponent(c).startsWith(`${data?.token}.`), "cookie value is <token>.<signature>", c);
  signInToken = data?.token;
});

await check("get-session", async (expect) => {
  const { data, error } = await client.getSession();
  expect(error === null, "error is null", error);
  expect(data !== null && typeof data === "object", "data is an object", data);
  expect(data?.user?.email === emailLower, "user.email", data?.user?.email);
  expect(data?.user?.name === "Client Test", "user.name", data?.user?.name);
  expect(typeof data?.session?.token === "string" && data.session.token.length > 0, "session.token present", data?.session?.token);
  expect(data?.session?.token === signInToken, "session.token equals sign-in token", data?.session?.token);
  expect(data?.session?.userId === data?.user?.id, "session.userId === user.id", data?.session?.userId);
  expect(typeof data?.session?.id === "string", "session.id", data?.session?.id);
  for (const k of ["expiresAt", "createdAt", "updatedAt"]) {
    expect(isDate(data?.session?.[k]), `session.${k} is a Date`, data?.session?.[k]);
  }
  for (const k of ["createdAt", "updatedAt"]) {
    expect(isDate(data?.user?.[k]), `user.${k} is a Date`, data?.user?.[k]);
  }
  const ttl = data?.session?.expiresAt - Date.now();
  expect(ttl > 6.9 * 86400e3 && ttl <= 7.01 * 86400e3, "session expires in ~7 days", data?.session?.expiresAt);
});

await check("list-sessions", async (expect) => {
  const { data, error } = await client.listSessions();
  expect(error === null, "error is null", error);
  expect(Array.isArray(data), "data is an array", data);
  expect(Array.isArray(data) && data.length >= 2, "at least the sign-up and sign-in sessions", data?.length);
  const tokens = Array.isArray(data) ? data.map((s) => s.token) : [];
  expect(tokens.includes(signInToken), "includes the current session token", tokens);
  expect(tokens.includes(signUpToken), "includes the sign-up session token", tokens);
  expect(Array.isArray(data) && data.every((s) => isDate(s.expiresAt) && isDate(s.createdAt)), "expiresAt/createdAt are Dates", data?.[0]);
});

await check("update-user", async (expect) => {
  const { data, error } = await client.updateUser({ name: "Client Renamed" });
  expect(error === null, "error is null", error);
  expect(data?.status === true, "data.status === true", data);
  const after = await client.getSession();
  expect(after.data?.user?.name === "Client Renamed", "get-session shows the new name", after.data?.user?.name);
});

await check("sign-out then get-session is null", async (expect) => {
  const { data, error } = await client.signOut();
  expect(error === null, "error is null", error);
  expect(data?.success === true, "data.success === true", data);
  expect(!jar.get(SESSION_COOKIE), "session cookie removed from the jar", jar.get(SESSION_COOKIE));
  const after = await client.getSession();
  expect(after.error === null, "get-session error is null", after.error);
  expect(after.data === null, "get-session data is null", after.data);
});

await check("sign-in with wrong password", async (expect) => {
  const { data, error } = await client.signIn.email({ email, password: "wrong-password-000" });
  expect(data === null, "data is null", data);
  expect(error?.status === 401, "error.status === 401", error?.status);
  expect(error?.code === "INVALID_EMAIL_OR_PASSWORD", "error.code === INVALID_EMAIL_OR_PASSWORD", error?.code);
  expect(error?.message === "Invalid email or password", "error.message", error?.message);
  expect(!jar.get(SESSION_COOKIE), "no session cookie", jar.get(SESSION_COOKIE));
});

await check("sign-up with duplicate email", async (expect) => {
  const { data, error } = await client.signUp.email({ name: "Dup", email: emailLower, password });
  expect(data === null, "data is null", data);
  expect(error?.status === 422, "error.status === 422", error?.status);
  expect(error?.code === "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "error.code === USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", error?.code);
});

summary();
