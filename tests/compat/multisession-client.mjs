// Drives a server's multi-session routes (Better Auth 1.7's multiSession
// plugin, spec better-auth-plugins-wire.md §6) with Better Auth's own JS
// client and its multiSessionClient(): several users signed in in one
// cookie jar (the multi-session cookies), listDeviceSessions, setActive,
// revoke (another device session, then the active one), the same user
// signing in again (their older device session replaced), and signOut
// ending every device session of the browser.
//
//   node multisession-client.mjs <baseURL>
//
// The server must have the multi-session plugin with its default options.
//
// Prints one line per check and finally "N passed, M failed"; exits 1 on
// any failure.

import { multiSessionClient, MULTI_SESSION_ERROR_CODES as CODES } from "better-auth/client/plugins";
import { Jar } from "./lib.mjs";
import {
  setup, isDate, expectKeys, expectError, expectOK, capture, cookieLine, cookieAttrs, expiresCookie, tokenOf, uniq,
  USER_KEYS, SESSION_KEYS, SESSION_COOKIE,
} from "./plugin-lib.mjs";

const S = "multisession-client.mjs";
const { check, summary, browser, makeFetch, AUTH } = setup(S, () => [multiSessionClient()]);

const MULTI = `${SESSION_COOKIE}_multi-`;
const multiName = (token) => `${MULTI}${token.toLowerCase()}`;
const tag = uniq();
const password = "multisession-client-password-1";
const email = (name) => `${name}.${tag}@example.com`;

const b = browser("browser"); // the shared browser
const tokens = {}; // name -> session token in b
const ids = {}; // name -> user id

// multiCookies returns the jar's multi-session cookie names.
const multiCookies = (jar) => [...jar.cookies.keys()].filter((k) => k.startsWith(MULTI)).sort();
const active = () => tokenOf(b.jar.get(SESSION_COOKIE));

// signUp signs name up in b and returns the Set-Cookie lines.
async function signUp(expect, name) {
  const got = capture();
  const data = expectOK(expect, await b.client.signUp.email({ name, email: email(name), password }, got.options), `sign-up ${name}`);
  tokens[name] = data?.token;
  ids[name] = data?.user?.id;
  return got.headers?.getSetCookie() || [];
}

// expectDevices holds listDeviceSessions to one entry per name, in any
// order, each {session, user} of that user and their token in b.
async function expectDevices(expect, names, what) {
  const data = expectOK(expect, await b.client.multiSession.listDeviceSessions(), what);
  expect(Array.isArray(data), `${what}: an array`, data);
  const got = (data || []).map((d) => d?.user?.email).sort();
  expect(JSON.stringify(got) === JSON.stringify(names.map(email).sort()), `${what}: ${names.join(", ") || "none"}`, got);
  for (const d of data || []) {
    expectKeys(expect, d, ["session", "user"], `${what} entry`);
    expectKeys(expect, d?.session, SESSION_KEYS, `${what} session`);
    expectKeys(expect, d?.user, USER_KEYS, `${what} user`);
    const name = names.find((n) => email(n) === d?.user?.email);
    expect(d?.session?.token === tokens[name] && d?.session?.userId === ids[name], `${what}: ${name}'s session in this browser`, d?.session);
    expect(isDate(d?.session?.expiresAt), `${what}: expiresAt a date`, d?.session?.expiresAt);
  }
  return data;
}

// ------------------------------------------------------------ two users in one jar

await check("sign-up sets the session cookie and a multi-session cookie with the same signed value and attributes", async (expect) => {
  const lines = await signUp(expect, "alice");
  const session = cookieLine(lines, SESSION_COOKIE);
  const multi = cookieLine(lines, multiName(tokens.alice));
  expect(!!session && !!multi, `${SESSION_COOKIE} and ${multiName("<token>")}`, lines);
  expect(multi?.split(";")[0].split("=").slice(1).join("=") === session?.split(";")[0].split("=").slice(1).join("="),
    "the same signed value", [session, multi]);
  const a = cookieAttrs(multi);
  expect(a["max-age"] === "604800" && a.path === "/" && a.httponly === true && (a.samesite || "").toLowerCase() === "lax",
    "Max-Age=604800; Path=/; HttpOnly; SameSite=Lax", multi);
  expect(JSON.stringify(multiCookies(b.jar)) === JSON.stringify([multiName(tokens.alice)]), "one multi-session cookie", multiCookies(b.jar));
});

await check("a second user signs up in the same browser: both multi-session cookies, the session cookie is bob's", async (expect) => {
  await signUp(expect, "bob");
  expect(active() === tokens.bob, "the session cookie is bob's", active());
  expect(JSON.stringify(multiCookies(b.jar)) === JSON.stringify([multiName(tokens.alice), multiName(tokens.bob)].sort()), "two multi-session cookies", multiCookies(b.jar));
  const s = expectOK(expect, await b.client.getSession(), "getSession");
  expect(s?.user?.id === ids.bob, "getSession: bob", s?.user?.email);
});

await check("listDeviceSessions: [{session, user}] of alice and bob", async (expect) => {
  await expectDevices(expect, ["alice", "bob"], "listDeviceSessions");
});

// ------------------------------------------------------------ set-active

await check("setActive {sessionToken: alice's}: {session, user} of alice; the session cookie switches", async (expect) => {
  const data = expectOK(expect, await b.client.multiSession.setActive({ sessionToken: tokens.alice }));
  expectKeys(expect, data, ["session", "user"], "answer");
  expectKeys(expect, data?.session, SESSION_KEYS, "session");
  expectKeys(expect, data?.user, USER_KEYS, "user");
  expect(data?.user?.id === ids.alice && data?.session?.token === tokens.alice, "alice's session", data?.session);
  expect(active() === tokens.alice, "the session cookie is alice's", active());
  const s = expectOK(expect, await b.client.getSession(), "getSession");
  expect(s?.user?.id === ids.alice, "getSession: alice", s?.user?.email);
});

await check("setActive of a session this browser holds no multi-session cookie for: 401 INVALID_SESSION_TOKEN", async (expect) => {
  const other = browser("other");
  const o = expectOK(expect, await other.client.signUp.email({ name: "carol", email: email("carol"), password }), "carol signs up elsewhere");
  expectError(expect, await b.client.multiSession.setActive({ sessionToken: o?.token }), 401, CODES.INVALID_SESSION_TOKEN, "another browser's session");
  expect(active() === tokens.alice, "the session cookie is still alice's", active());
  const r = await b.client.multiSession.setActive({}, { method: "POST" });
  expect(r.data === null && r.error?.status === 400 && r.error?.code === "VALIDATION_ERROR", "no sessionToken: 400 VALIDATION_ERROR", r.error);
});

await check("the same user signs in again in the browser: their older device session is replaced", async (expect) => {
  const old = tokens.alice;
  const got = capture();
  const data = expectOK(expect, await b.client.signIn.email({ email: email("alice"), password }, got.options), "alice signs in");
  tokens.alice = data?.token;
  const lines = got.headers?.getSetCookie() || [];
  expect(expiresCookie(lines, multiName(old)), "the old multi-session cookie is expired", lines);
  expect(!!cookieLine(lines, multiName(tokens.alice)), "a new one is set", lines);
  await expectDevices(expect, ["alice", "bob"], "listDeviceSessions");
  const r = await b.client.multiSession.setActive({ sessionToken: old });
  expectError(expect, r, 401, CODES.INVALID_SESSION_TOKEN, "the old session");
});

// ------------------------------------------------------------ revoke

await check("revoke {sessionToken: bob's} while alice is active: {status:true}; bob's device session ends", async (expect) => {
  const got = capture();
  const data = expectOK(expect, await b.client.multiSession.revoke({ sessionToken: tokens.bob }, got.options));
  expectKeys(expect, data, ["status"], "answer");
  expect(data?.status === true, "status true", data);
  expect(expiresCookie(got.headers?.getSetCookie(), multiName(tokens.bob)), "bob's multi-session cookie expired", got.headers?.getSetCookie());
  expect(active() === tokens.alice, "alice stays active", active());
  await expectDevices(expect, ["alice"], "listDeviceSessions");
});

await check("revoke of the active session: the next device session becomes the session cookie", async (expect) => {
  await signUp(expect, "dave");
  expect(active() === tokens.dave, "dave is active", active());
  const data = expectOK(expect, await b.client.multiSession.revoke({ sessionToken: tokens.dave }));
  expect(data?.status === true, "status true", data);
  expect(active() === tokens.alice, "the session cookie is alice's", active());
  const s = expectOK(expect, await b.client.getSession(), "getSession");
  expect(s?.user?.id === ids.alice, "getSession: alice", s?.user?.email);
  await expectDevices(expect, ["alice"], "listDeviceSessions");
});

await check("revoke of a session not held: 401 INVALID_SESSION_TOKEN; without a session: 401 UNAUTHORIZED", async (expect) => {
  expectError(expect, await b.client.multiSession.revoke({ sessionToken: "no-such-session-token" }), 401, CODES.INVALID_SESSION_TOKEN, "not held");
  const anon = browser("anonymous");
  expectError(expect, await anon.client.multiSession.revoke({ sessionToken: tokens.alice }), 401, { code: "UNAUTHORIZED", message: "Unauthorized" }, "anonymous");
  const s = expectOK(expect, await b.client.getSession(), "getSession");
  expect(s?.user?.id === ids.alice, "alice's session survives", s?.user?.email);
});

// ------------------------------------------------------------ sign-out

await check("signOut: every multi-session cookie expired and every device session of the browser ended", async (expect) => {
  await signUp(expect, "erin");
  await expectDevices(expect, ["alice", "erin"], "before");
  // A copy of the browser's cookies, to show the sessions themselves end.
  const copy = new Jar();
  for (const [k, v] of b.jar.cookies) copy.cookies.set(k, v);
  const got = capture();
  const data = expectOK(expect, await b.client.signOut({ fetchOptions: got.options }), "signOut");
  expect(data?.success === true, "{success: true}", data);
  const lines = got.headers?.getSetCookie() || [];
  for (const name of ["alice", "erin"]) expect(expiresCookie(lines, multiName(tokens[name])), `${name}'s multi-session cookie expired`, lines);
  expect(multiCookies(b.jar).length === 0 && !b.jar.get(SESSION_COOKIE), "the jar holds no session cookie", [...b.jar.cookies.keys()]);
  const list = expectOK(expect, await b.client.multiSession.listDeviceSessions(), "listDeviceSessions");
  expect(Array.isArray(list) && list.length === 0, "[]", list);
  const copyFetch = makeFetch(copy, "copy");
  const res = await copyFetch(`${AUTH}/multi-session/list-device-sessions`);
  const body = await res.json();
  expect(res.status === 200 && Array.isArray(body) && body.length === 0, "the old cookies name no live session", body);
  for (const name of ["alice", "erin"]) {
    copy.cookies.set(SESSION_COOKIE, copy.get(multiName(tokens[name])));
    const r = await copyFetch(`${AUTH}/get-session`);
    expect((await r.text()) === "null", `${name}'s session is gone`, r.status);
  }
});

await check("listDeviceSessions without cookies: []", async (expect) => {
  const data = expectOK(expect, await browser("empty").client.multiSession.listDeviceSessions());
  expect(Array.isArray(data) && data.length === 0, "[]", data);
});

summary();
