// Drives a server's OAuth routes (Better Auth 1.7's social sign-in, spec
// better-auth-plugins-wire.md §1) with Better Auth's own JS client:
// signIn.social, the provider's redirect back to /callback/:id,
// getSession, listAccounts, accountInfo, getAccessToken, refreshToken,
// linkSocial and unlinkAccount, each answer's shape held to the spec.
//
//   BASE_URL=http://127.0.0.1:port OIDC_ISSUER=... OIDC_USER=... node oauth-client.mjs
//
// The server must have two providers on the same OpenID provider,
// "local-oidc" and "second", with the scopes openid email profile
// offline_access, and serve POST <base>/__test/oidc-login {authURL, userID}
// answering {redirect}: it signs in at the provider as userID, as the
// browser would, and returns the provider's redirect back to the server's
// callback (oauth_test.go runs the provider in Go). The script then
// delivers that redirect with its own cookie jar, as the browser would.
//
// Environment: OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_USER (the provider's
// sub of the user), OIDC_USER_EMAIL, OIDC_USER_NAME, OIDC_OTHER_USER (a
// user of the provider with another email); OIDC_LOGIN_URL, if the login
// helper is not <base>/__test/oidc-login (a reference server in Node).
//
// Prints one line per check and finally "N passed, M failed"; exits 1 on
// any failure.

import { createAuthClient } from "better-auth/client";
import { harness, Jar } from "./lib.mjs";

const baseURL = process.argv[2] || process.env.BASE_URL;
const env = (k) => {
  const v = process.env[k];
  if (!v) {
    console.error(`oauth-client.mjs: ${k} is not set`);
    process.exit(2);
  }
  return v;
};
if (!baseURL) {
  console.error("usage: node oauth-client.mjs <baseURL>   (or BASE_URL=...)");
  process.exit(2);
}
const ISSUER = env("OIDC_ISSUER");
const CLIENT_ID = env("OIDC_CLIENT_ID");
const USER = env("OIDC_USER");
const USER_EMAIL = env("OIDC_USER_EMAIL");
const USER_NAME = env("OIDC_USER_NAME");
const OTHER_USER = env("OIDC_OTHER_USER");
const LOGIN_URL = process.env.OIDC_LOGIN_URL || `${baseURL}/__test/oidc-login`;

const { makeFetch, check, summary } = harness(baseURL);
const AUTH = `${baseURL}/api/auth`;
const STATE_COOKIE = "better-auth.state";
const SESSION_COOKIE = "better-auth.session_token";

// A browser: a cookie jar, a fetch that keeps it (redirects not followed)
// and Better Auth's client on that fetch.
function browser(label) {
  const jar = new Jar();
  const jarFetch = makeFetch(jar, label);
  const client = createAuthClient({ baseURL, fetchOptions: { customFetchImpl: jarFetch } });
  return { jar, jarFetch, client };
}

const isDate = (v) => v instanceof Date && !isNaN(v.getTime());
const isStr = (v) => typeof v === "string" && v.length > 0;
const keys = (o) => (o && typeof o === "object" ? Object.keys(o).sort() : o);
const sameKeys = (o, want) => JSON.stringify(keys(o)) === JSON.stringify([...want].sort());
const SCOPES = ["openid", "email", "profile", "offline_access"];

// loginAtProvider signs in at the provider as userID for the authorization
// URL and returns the provider's redirect to our callback.
async function loginAtProvider(authURL, userID) {
  const res = await fetch(LOGIN_URL, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ authURL, userID }),
  });
  const body = await res.json();
  if (!res.ok || !isStr(body.redirect)) throw new Error(`provider login: ${res.status} ${JSON.stringify(body)}`);
  return body.redirect;
}

// deliver sends the provider's redirect to our callback with the browser's
// cookies (the jar keeps what it sets) and returns the callback's answer.
async function deliver(b, redirect) {
  const res = await b.jarFetch(redirect);
  await res.text();
  return { status: res.status, location: res.headers.get("location"), setCookie: res.headers.getSetCookie() };
}

// cookieLine returns the Set-Cookie line of the cookie name, or undefined.
const cookieLine = (lines, name) => lines.find((l) => l.startsWith(`${name}=`));
const cookieAttrs = (line) =>
  Object.fromEntries(
    (line || "")
      .split(";")
      .slice(1)
      .map((a) => a.trim().split("="))
      .map(([k, v = true]) => [k.toLowerCase(), v]),
  );

// expectAuthURL holds an authorization URL to §1.2 for the provider id.
function expectAuthURL(expect, url, providerId) {
  let u;
  try {
    u = new URL(url);
  } catch {
    expect(false, "url is a URL", url);
    return;
  }
  const q = u.searchParams;
  expect(`${u.origin}${u.pathname}` === `${ISSUER}/authorize`, "the provider's authorization endpoint", url);
  expect(q.get("response_type") === "code", "response_type=code", q.get("response_type"));
  expect(q.get("client_id") === CLIENT_ID, "client_id", q.get("client_id"));
  expect(/^[A-Za-z0-9_-]{32}$/.test(q.get("state") || ""), "state: 32 characters [A-Za-z0-9_-]", q.get("state"));
  expect(q.get("scope") === SCOPES.join(" "), "scope (space-joined)", q.get("scope"));
  expect(q.get("redirect_uri") === `${AUTH}/callback/${providerId}`, "redirect_uri = AUTH/callback/<id>", q.get("redirect_uri"));
  expect((q.get("nonce") || "").length === 32, "nonce: 32 characters", q.get("nonce"));
  expect(q.get("code_challenge_method") === "S256", "code_challenge_method=S256", q.get("code_challenge_method"));
  expect(/^[A-Za-z0-9_-]{43}$/.test(q.get("code_challenge") || ""), "code_challenge: base64url SHA-256", q.get("code_challenge"));
}

// onResponse captures the headers of one client call.
function capture() {
  const got = { headers: null };
  got.options = {
    onResponse(ctx) {
      got.headers = ctx.response.headers;
    },
  };
  return got;
}

const alice = browser("alice");
let authURL; // the first flow's authorization URL
let redirect; // the provider's redirect back to us for it
let userId;
let account; // the local-oidc account of list-accounts
let secondAccount; // the "second" account, once linked
let firstToken; // the access token get-access-token gave first

// ------------------------------------------------------------ sign-in

await check("signIn.social {disableRedirect}: {url, redirect:false}, no Location, the state cookie", async (expect) => {
  const got = capture();
  const { data, error } = await alice.client.signIn.social(
    { provider: "local-oidc", callbackURL: "/done", newUserCallbackURL: "/welcome", errorCallbackURL: "/oops", disableRedirect: true },
    got.options,
  );
  expect(error === null, "error is null", error);
  expect(sameKeys(data, ["url", "redirect"]), "keys {url, redirect}", keys(data));
  expect(data?.redirect === false, "redirect === false", data?.redirect);
  expectAuthURL(expect, data?.url, "local-oidc");
  authURL = data?.url;
  expect(got.headers?.get("location") === null, "no Location header", got.headers?.get("location"));
  const state = cookieLine(got.headers?.getSetCookie() || [], STATE_COOKIE);
  const a = cookieAttrs(state);
  expect(!!state, "a better-auth.state cookie is set", got.headers?.getSetCookie());
  expect(a["max-age"] === "300" && a.path === "/" && a.httponly === true && (a.samesite || "").toLowerCase() === "lax",
    "state cookie Max-Age=300; Path=/; HttpOnly; SameSite=Lax", state);
  const value = decodeURIComponent(alice.jar.get(STATE_COOKIE) || "");
  expect(value.startsWith(`${new URL(authURL).searchParams.get("state")}.`), "the cookie signs the URL's state", value);
});

await check("signIn.social without disableRedirect: {url, redirect:true} and Location = url", async (expect) => {
  const scratch = browser("scratch");
  const got = capture();
  const { data, error } = await scratch.client.signIn.social({ provider: "local-oidc", callbackURL: "/done" }, got.options);
  expect(error === null, "error is null", error);
  expect(sameKeys(data, ["url", "redirect"]), "keys {url, redirect}", keys(data));
  expect(data?.redirect === true, "redirect === true", data?.redirect);
  expect(isStr(data?.url) && got.headers?.get("location") === data.url, "Location = url", got.headers?.get("location"));
  expect(new URL(data?.url).searchParams.get("state") !== new URL(authURL).searchParams.get("state"), "a new state per flow");
});

await check("signIn.social of an unknown provider: 404 PROVIDER_NOT_FOUND; without provider: 400 VALIDATION_ERROR", async (expect) => {
  const scratch = browser("scratch");
  const r1 = await scratch.client.signIn.social({ provider: "nope" });
  expect(r1.data === null, "data is null", r1.data);
  expect(r1.error?.status === 404 && r1.error?.code === "PROVIDER_NOT_FOUND" && r1.error?.message === "Provider not found",
    "404 PROVIDER_NOT_FOUND \"Provider not found\"", r1.error);
  const r2 = await scratch.client.signIn.social({ callbackURL: "/done" });
  expect(r2.error?.status === 400 && r2.error?.code === "VALIDATION_ERROR", "400 VALIDATION_ERROR", r2.error);
  expect(typeof r2.error?.message === "string" && r2.error.message.includes("provider"), "the message names provider", r2.error?.message);
});

await check("the callback in another browser (no state cookie): 302 <errorURL>?error=state_mismatch", async (expect) => {
  redirect = await loginAtProvider(authURL, USER);
  const r = new URL(redirect);
  expect(`${r.origin}${r.pathname}` === `${AUTH}/callback/local-oidc`, "the provider redirects to AUTH/callback/local-oidc", redirect);
  expect(isStr(r.searchParams.get("code")), "with a code", redirect);
  expect(r.searchParams.get("state") === new URL(authURL).searchParams.get("state"), "with the flow's state", redirect);
  const res = await deliver(browser("intruder"), redirect);
  expect(res.status === 302, "302", res.status);
  expect(res.location === "/oops?error=state_mismatch", "Location /oops?error=state_mismatch", res.location);
  expect(!cookieLine(res.setCookie, SESSION_COOKIE), "no session cookie", res.setCookie);
});

await check("the callback with the state cookie: 302 newUserCallbackURL, session cookie, state cookie cleared", async (expect) => {
  const res = await deliver(alice, redirect);
  expect(res.status === 302, "302", res.status);
  expect(res.location === "/welcome", "Location /welcome (a new user goes to newUserCallbackURL, verbatim)", res.location);
  const session = cookieLine(res.setCookie, SESSION_COOKIE);
  const a = cookieAttrs(session);
  expect(!!session, "a session cookie", res.setCookie);
  expect(a["max-age"] === "604800" && a.path === "/" && a.httponly === true && (a.samesite || "").toLowerCase() === "lax",
    "session cookie Max-Age=604800; Path=/; HttpOnly; SameSite=Lax", session);
  const state = cookieLine(res.setCookie, STATE_COOKIE);
  expect(!!state && cookieAttrs(state)["max-age"] === "0", "better-auth.state=; Max-Age=0", state);
  expect(!alice.jar.get(STATE_COOKIE), "the jar dropped the state cookie", [...alice.jar.cookies.keys()]);
});

await check("the callback replayed: 302 AUTH/error?error=state_mismatch", async (expect) => {
  const res = await deliver(alice, redirect);
  expect(res.status === 302, "302", res.status);
  expect(res.location === `${AUTH}/error?error=state_mismatch`, "Location AUTH/error?error=state_mismatch", res.location);
  expect(!cookieLine(res.setCookie, SESSION_COOKIE), "no new session cookie", res.setCookie);
});

await check("getSession: the provider's user, email verified", async (expect) => {
  const { data, error } = await alice.client.getSession();
  expect(error === null, "error is null", error);
  expect(data?.user?.email === USER_EMAIL, "user.email", data?.user?.email);
  expect(data?.user?.name === USER_NAME, "user.name", data?.user?.name);
  expect(data?.user?.emailVerified === true, "user.emailVerified === true", data?.user?.emailVerified);
  expect(isDate(data?.user?.createdAt) && isDate(data?.session?.expiresAt), "dates", data);
  userId = data?.user?.id;
  expect(isStr(userId), "user.id", userId);
});

// ------------------------------------------------------------ accounts

await check("listAccounts: [{id, providerId, accountId, userId, createdAt, updatedAt, scopes}]", async (expect) => {
  const { data, error } = await alice.client.listAccounts();
  expect(error === null, "error is null", error);
  expect(Array.isArray(data) && data.length === 1, "one account", data);
  account = data?.[0];
  expect(sameKeys(account, ["id", "providerId", "accountId", "userId", "createdAt", "updatedAt", "scopes"]),
    "keys {id, providerId, accountId, userId, createdAt, updatedAt, scopes}: no tokens", keys(account));
  expect(isStr(account?.id) && account.id !== USER, "id: the Better Auth account id", account?.id);
  expect(account?.providerId === "local-oidc", "providerId", account?.providerId);
  expect(account?.accountId === USER, "accountId = the provider's sub", account?.accountId);
  expect(account?.userId === userId, "userId", account?.userId);
  expect(isDate(account?.createdAt) && isDate(account?.updatedAt), "createdAt, updatedAt are dates", account);
  expect(JSON.stringify(account?.scopes) === JSON.stringify(SCOPES), "scopes: the stored scope split on ','", account?.scopes);
});

await check("accountInfo {query: {accountId}}: {user, data, account}", async (expect) => {
  const { data, error } = await alice.client.accountInfo({ query: { accountId: account?.id } });
  expect(error === null, "error is null", error);
  expect(sameKeys(data, ["user", "data", "account"]), "keys {user, data, account}", keys(data));
  expect(sameKeys(data?.account, ["id", "providerId", "accountId"]), "account keys {id, providerId, accountId}", data?.account);
  expect(data?.account?.id === account?.id && data?.account?.providerId === "local-oidc" && data?.account?.accountId === USER,
    "account {id, providerId, accountId}", data?.account);
  const u = data?.user || {};
  expect(Object.keys(u).every((k) => ["name", "email", "image", "emailVerified"].includes(k)), "user keys within {name, email, image?, emailVerified}", keys(u));
  expect(u.name === USER_NAME && u.email === USER_EMAIL && u.emailVerified === true, "user {name, email, emailVerified}", u);
  const d = data?.data || {};
  expect(d.sub === USER && d.email === USER_EMAIL, "data: the provider's claims (sub, email)", d);
  // The spec (§1.6) has data.id = sub; Better Auth 1.7.25 adds it only when
  // the ID token carries the email (this provider's does not: the claims
  // come from UserInfo, without id), so id is checked only when present.
  expect(d.id === undefined || d.id === USER, "data.id, if present, = sub", d.id);
  expect(d.emailVerified === true, "data.emailVerified", d.emailVerified);
});

await check("accountInfo without accountId: 400 VALIDATION_ERROR; of another id: 400 ACCOUNT_NOT_FOUND", async (expect) => {
  const r1 = await alice.client.accountInfo({ query: { providerId: "local-oidc" } });
  // Better Auth's message is "[query] Invalid input" (the query is validated);
  // only the status and code are held here.
  expect(r1.error?.status === 400 && r1.error?.code === "VALIDATION_ERROR", "400 VALIDATION_ERROR", r1.error);
  const r2 = await alice.client.accountInfo({ query: { accountId: USER } });
  expect(r2.error?.status === 400 && r2.error?.code === "ACCOUNT_NOT_FOUND", "400 ACCOUNT_NOT_FOUND (the provider's accountId is not the row id)", r2.error);
});

await check("getAccessToken {accountId}: {accessToken, accessTokenExpiresAt, scopes, idToken}", async (expect) => {
  const { data, error } = await alice.client.getAccessToken({ accountId: account?.id });
  expect(error === null, "error is null", error);
  expect(sameKeys(data, ["accessToken", "accessTokenExpiresAt", "scopes", "idToken"]), "keys", keys(data));
  expect(isStr(data?.accessToken), "accessToken", data?.accessToken);
  expect(isDate(data?.accessTokenExpiresAt) && data.accessTokenExpiresAt > new Date(), "accessTokenExpiresAt: a future date", data?.accessTokenExpiresAt);
  expect(JSON.stringify(data?.scopes) === JSON.stringify(SCOPES), "scopes", data?.scopes);
  expect(isStr(data?.idToken) && data.idToken.split(".").length === 3, "idToken: a JWT", data?.idToken);
  firstToken = data?.accessToken;
  const again = await alice.client.getAccessToken({ accountId: account?.id });
  expect(again.data?.accessToken === firstToken, "a token far from expiry is returned as stored", again.data?.accessToken);
});

await check("getAccessToken {providerId}: 400 VALIDATION_ERROR; of another id: 400 ACCOUNT_NOT_FOUND", async (expect) => {
  const r1 = await alice.client.getAccessToken({ providerId: "local-oidc" });
  expect(r1.error?.status === 400 && r1.error?.code === "VALIDATION_ERROR" && r1.error?.message === "[body] Invalid input",
    "400 VALIDATION_ERROR \"[body] Invalid input\"", r1.error);
  const r2 = await alice.client.getAccessToken({ accountId: USER });
  expect(r2.error?.status === 400 && r2.error?.code === "ACCOUNT_NOT_FOUND" && r2.error?.message === "Account not found",
    "400 ACCOUNT_NOT_FOUND \"Account not found\"", r2.error);
});

await check("refreshToken {accountId}: new tokens, {accessToken, refreshToken, …, providerId, accountId}", async (expect) => {
  const { data, error } = await alice.client.refreshToken({ accountId: account?.id });
  expect(error === null, "error is null", error);
  const want = ["accessToken", "refreshToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "idToken", "providerId", "accountId"];
  expect(Object.keys(data || {}).every((k) => want.includes(k)), "no keys beyond the spec's", keys(data));
  expect(want.filter((k) => k !== "refreshTokenExpiresAt").every((k) => k in (data || {})), "every key (refreshTokenExpiresAt may be absent)", keys(data));
  expect(isStr(data?.accessToken) && data.accessToken !== firstToken, "a new accessToken", data?.accessToken);
  expect(isStr(data?.refreshToken), "refreshToken", data?.refreshToken);
  expect(isDate(data?.accessTokenExpiresAt), "accessTokenExpiresAt: a date", data?.accessTokenExpiresAt);
  expect(data?.refreshTokenExpiresAt == null || isDate(data.refreshTokenExpiresAt), "refreshTokenExpiresAt: null or a date", data?.refreshTokenExpiresAt);
  expect(data?.scope === SCOPES.join(","), "scope: comma-joined", data?.scope);
  expect(isStr(data?.idToken), "idToken", data?.idToken);
  expect(data?.providerId === "local-oidc", "providerId", data?.providerId);
  expect(data?.accountId === account?.id, "accountId = the Better Auth account id", data?.accountId);
  const after = await alice.client.getAccessToken({ accountId: account?.id });
  expect(after.data?.accessToken === data?.accessToken, "get-access-token now hands out the refreshed token", after.data?.accessToken);
});

await check("unlinkAccount of the only account: 400 FAILED_TO_UNLINK_LAST_ACCOUNT", async (expect) => {
  const { data, error } = await alice.client.unlinkAccount({ accountId: account?.id });
  expect(data === null, "data is null", data);
  expect(error?.status === 400 && error?.code === "FAILED_TO_UNLINK_LAST_ACCOUNT" && error?.message === "You can't unlink your last account",
    "400 FAILED_TO_UNLINK_LAST_ACCOUNT", error);
});

// ------------------------------------------------------------ link-social

await check("linkSocial of a provider user with another email: 302 AUTH/error?error=email_does_not_match", async (expect) => {
  const got = capture();
  const { data, error } = await alice.client.linkSocial({ provider: "local-oidc", callbackURL: "/linked" }, got.options);
  expect(error === null, "error is null", error);
  expect(sameKeys(data, ["url", "redirect"]), "keys {url, redirect}", keys(data));
  expect(data?.redirect === true && got.headers?.get("location") === data?.url, "redirect:true, Location = url", data);
  expectAuthURL(expect, data?.url, "local-oidc");
  expect(!!alice.jar.get(STATE_COOKIE), "a state cookie", [...alice.jar.cookies.keys()]);
  const sessionBefore = alice.jar.get(SESSION_COOKIE);
  const res = await deliver(alice, await loginAtProvider(data?.url, OTHER_USER));
  expect(res.status === 302, "302", res.status);
  expect(res.location === `${AUTH}/error?error=email_does_not_match`, "Location AUTH/error?error=email_does_not_match", res.location);
  expect(!cookieLine(res.setCookie, SESSION_COOKIE) && alice.jar.get(SESSION_COOKIE) === sessionBefore, "the session cookie is untouched", res.setCookie);
  const list = await alice.client.listAccounts();
  expect(list.data?.length === 1, "nothing linked", list.data);
});

await check("linkSocial of a second provider, same email: 302 callbackURL, two accounts", async (expect) => {
  const { data, error } = await alice.client.linkSocial({ provider: "second", callbackURL: "/linked", disableRedirect: true });
  expect(error === null, "error is null", error);
  expect(data?.redirect === false, "redirect === false", data);
  expectAuthURL(expect, data?.url, "second");
  const sessionBefore = alice.jar.get(SESSION_COOKIE);
  const res = await deliver(alice, await loginAtProvider(data?.url, USER));
  expect(res.status === 302, "302", res.status);
  expect(res.location === "/linked", "Location /linked", res.location);
  expect(!cookieLine(res.setCookie, SESSION_COOKIE) && alice.jar.get(SESSION_COOKIE) === sessionBefore, "no new session", res.setCookie);
  const list = await alice.client.listAccounts();
  expect(list.error === null, "listAccounts: error is null", list.error);
  expect(list.data?.length === 2, "two accounts", list.data);
  const byProvider = Object.fromEntries((list.data || []).map((a) => [a.providerId, a]));
  secondAccount = byProvider.second;
  expect(byProvider["local-oidc"]?.id === account?.id, "the first account is kept", list.data);
  expect(secondAccount?.accountId === USER && secondAccount?.userId === userId && secondAccount?.id !== account?.id,
    "the second: the same provider sub, the same user, its own id", secondAccount);
  expect(JSON.stringify(secondAccount?.scopes) === JSON.stringify(SCOPES), "its scopes", secondAccount?.scopes);
  const s = await alice.client.getSession();
  expect(s.data?.user?.id === userId, "still signed in as the same user", s.data?.user);
});

await check("getAccessToken and accountInfo of the second account", async (expect) => {
  const t = await alice.client.getAccessToken({ accountId: secondAccount?.id });
  expect(t.error === null && isStr(t.data?.accessToken), "an access token", t);
  const i = await alice.client.accountInfo({ query: { accountId: secondAccount?.id } });
  expect(i.error === null, "error is null", i.error);
  expect(i.data?.account?.providerId === "second" && i.data?.account?.id === secondAccount?.id, "account", i.data?.account);
  expect(i.data?.user?.email === USER_EMAIL, "user.email", i.data?.user);
});

await check("linkSocial of an unknown provider: 404 PROVIDER_NOT_FOUND", async (expect) => {
  const { error } = await alice.client.linkSocial({ provider: "nope", callbackURL: "/linked" });
  expect(error?.status === 404 && error?.code === "PROVIDER_NOT_FOUND", "404 PROVIDER_NOT_FOUND", error);
});

// ------------------------------------------------------------ unlink

await check("unlinkAccount by the provider's accountId: 400 ACCOUNT_NOT_FOUND", async (expect) => {
  const { data, error } = await alice.client.unlinkAccount({ accountId: USER });
  expect(data === null, "data is null", data);
  expect(error?.status === 400 && error?.code === "ACCOUNT_NOT_FOUND", "400 ACCOUNT_NOT_FOUND", error);
});

await check("unlinkAccount {accountId} with two accounts: {status:true}; then the last: FAILED_TO_UNLINK_LAST_ACCOUNT", async (expect) => {
  const { data, error } = await alice.client.unlinkAccount({ accountId: secondAccount?.id });
  expect(error === null, "error is null", error);
  expect(sameKeys(data, ["status"]) && data?.status === true, "{status: true}", data);
  const list = await alice.client.listAccounts();
  expect(list.data?.length === 1 && list.data[0].id === account?.id, "the first account is left", list.data);
  const last = await alice.client.unlinkAccount({ accountId: account?.id });
  expect(last.error?.status === 400 && last.error?.code === "FAILED_TO_UNLINK_LAST_ACCOUNT", "400 FAILED_TO_UNLINK_LAST_ACCOUNT", last.error);
  const gone = await alice.client.getAccessToken({ accountId: secondAccount?.id });
  expect(gone.error?.status === 400 && gone.error?.code === "ACCOUNT_NOT_FOUND", "the unlinked account is gone: ACCOUNT_NOT_FOUND", gone.error);
});

// ------------------------------------------------------------ returning user, no session

await check("a returning user signs in to callbackURL (not newUserCallbackURL), the same user", async (expect) => {
  const b = browser("alice-again");
  const { data, error } = await b.client.signIn.social({ provider: "local-oidc", callbackURL: "/done", newUserCallbackURL: "/welcome", disableRedirect: true });
  expect(error === null, "error is null", error);
  const res = await deliver(b, await loginAtProvider(data?.url, USER));
  expect(res.status === 302 && res.location === "/done", "302 /done", res);
  const s = await b.client.getSession();
  expect(s.data?.user?.id === userId, "the same user", s.data?.user);
  const list = await b.client.listAccounts();
  expect(list.data?.length === 1, "still one account", list.data);
});

await check("without a session: listAccounts, linkSocial, unlinkAccount 401 UNAUTHORIZED; the token routes 401 with an empty body", async (expect) => {
  const anon = browser("anonymous");
  const l = await anon.client.listAccounts();
  expect(l.error?.status === 401 && l.error?.code === "UNAUTHORIZED", "listAccounts: 401 UNAUTHORIZED", l.error);
  const k = await anon.client.linkSocial({ provider: "second", callbackURL: "/linked" });
  expect(k.error?.status === 401 && k.error?.code === "UNAUTHORIZED", "linkSocial: 401 UNAUTHORIZED", k.error);
  const u = await anon.client.unlinkAccount({ accountId: account?.id });
  expect(u.error?.status === 401 && u.error?.code === "UNAUTHORIZED", "unlinkAccount: 401 UNAUTHORIZED", u.error);
  for (const [name, call] of [
    ["getAccessToken", () => anon.client.getAccessToken({ accountId: account?.id })],
    ["refreshToken", () => anon.client.refreshToken({ accountId: account?.id })],
    ["accountInfo", () => anon.client.accountInfo({ query: { accountId: account?.id } })],
  ]) {
    const r = await call();
    expect(r.data === null && r.error?.status === 401 && r.error?.code === undefined && r.error?.message === undefined,
      `${name}: 401, empty body`, r.error);
  }
});

summary();
