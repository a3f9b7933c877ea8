// Drives a server's admin routes (Better Auth 1.7's admin plugin, spec
// better-auth-plugins-wire.md §2) with Better Auth's own JS client and its
// adminClient(): createUser, listUsers (search, filter, sort, paging),
// getUser, updateUser, setRole, banUser (the banned user's sign-in
// refused), unbanUser, impersonateUser / stopImpersonating (the cookies),
// listUserSessions, revokeUserSession(s), setUserPassword, removeUser,
// hasPermission, and every route as a user without the permission (403
// with the route's code) and without a session (401, empty body).
//
//   ADMIN_EMAIL=... ADMIN_PASSWORD=... node admin-client.mjs <baseURL>
//
// The server must have the admin plugin with its default options and an
// admin (role "admin") ADMIN_EMAIL with the password ADMIN_PASSWORD.
//
// Prints one line per check and finally "N passed, M failed"; exits 1 on
// any failure.

import { adminClient, ADMIN_ERROR_CODES as CODES } from "better-auth/client/plugins";
import {
  setup, env, isDate, isStr, keys, expectKeys, expectError, expectOK, capture, cookieLine, cookieAttrs, tokenOf,
  uniq, USER_KEYS, SESSION_KEYS, SESSION_COOKIE,
} from "./plugin-lib.mjs";

const S = "admin-client.mjs";
const ADMIN_EMAIL = env("ADMIN_EMAIL", S);
const ADMIN_PASSWORD = env("ADMIN_PASSWORD", S);
const { check, summary, browser, REFERENCE } = setup(S, () => [adminClient()]);

const ADMIN_USER_KEYS = [...USER_KEYS, "role", "banned", "banReason", "banExpires"];
const ADMIN_SESSION_KEYS = [...SESSION_KEYS, "impersonatedBy"];
const ADMIN_SESSION_COOKIE = "better-auth.admin_session";
const DONT_REMEMBER_COOKIE = "better-auth.dont_remember";
const BANNED_MESSAGE = "You have been banned from this application. Please contact support if you believe this is an error.";
// The core's codes the admin routes answer with.
const USER_NOT_FOUND = { code: "USER_NOT_FOUND", message: "User not found" };
const INVALID_EMAIL = { code: "INVALID_EMAIL", message: "Invalid email" };
const PASSWORD_TOO_SHORT = { code: "PASSWORD_TOO_SHORT", message: "Password too short" };
const INVALID_EMAIL_OR_PASSWORD = { code: "INVALID_EMAIL_OR_PASSWORD", message: "Invalid email or password" };

const tag = uniq();
const password = "admin-client-password-1";
const email = (name) => `${name}.${tag}@example.com`;

const root = browser("admin");
const user = browser("user"); // a plain user, signed up on their own
let rootId;
let rootToken; // the admin's session token
const created = {}; // name -> user created by createUser

function expectUser(expect, u, what) {
  expectKeys(expect, u, ADMIN_USER_KEYS, what);
  expect(isStr(u?.id), `${what}.id`, u?.id);
  expect(isDate(u?.createdAt) && isDate(u?.updatedAt), `${what} dates`, u);
}

// ------------------------------------------------------------ set-up

await check("the admin signs in: the user carries role, banned, banReason, banExpires", async (expect) => {
  const data = expectOK(expect, await root.client.signIn.email({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }));
  expectUser(expect, data?.user, "user");
  expect(data?.user?.role === "admin", "role admin", data?.user?.role);
  expect(data?.user?.banned === false && data?.user?.banReason === null && data?.user?.banExpires === null,
    "banned false, banReason null, banExpires null", data?.user);
  rootId = data?.user?.id;
  rootToken = tokenOf(root.jar.get(SESSION_COOKIE));
  const s = expectOK(expect, await root.client.getSession(), "getSession");
  expectKeys(expect, s?.session, ADMIN_SESSION_KEYS, "session");
  expect(s?.session?.impersonatedBy === null, "session.impersonatedBy null", s?.session);
  expect(s?.session?.token === rootToken, "the cookie's session", s?.session?.token);
});

await check("a user signs up: role user", async (expect) => {
  const data = expectOK(expect, await user.client.signUp.email({ name: "Plain User", email: email("plain"), password }));
  // As Better Auth on a SQL database answers it: banReason and banExpires
  // present, null.
  expectKeys(expect, data?.user, ADMIN_USER_KEYS, "user");
  expect(data?.user?.banReason === null && data?.user?.banExpires === null, "banReason null, banExpires null", data?.user);
  expect(data?.user?.role === "user" && data?.user?.banned === false, "role user, not banned", data?.user);
  created.plain = data?.user;
});

// ------------------------------------------------------------ create-user

await check("createUser {email (mixed case), password, name, role, data}: {user}, email lower-cased", async (expect) => {
  const data = expectOK(expect, await root.client.admin.createUser({
    email: `Alice.${tag}@Example.COM`, password, name: "Alice", role: "user", data: { image: "https://example.com/a.png" },
  }));
  expectKeys(expect, data, ["user"], "answer");
  expectUser(expect, data?.user, "user");
  expect(data?.user?.email === email("alice"), "email lower-cased", data?.user?.email);
  expect(data?.user?.name === "Alice" && data?.user?.role === "user" && data?.user?.emailVerified === false, "name, role, emailVerified", data?.user);
  expect(data?.user?.image === "https://example.com/a.png", "data.image stored", data?.user?.image);
  created.alice = data?.user;
  const b = browser("alice");
  const s = expectOK(expect, await b.client.signIn.email({ email: email("alice"), password }), "alice signs in");
  expect(s?.user?.id === created.alice?.id, "with the password given", s?.user);
});

await check("createUser: more users (a role array is stored comma-joined; without role: user)", async (expect) => {
  for (const [name, display, role] of [["bob", "Bob", undefined], ["carol", "Carol", ["user", "admin"]], ["dave", "Dave", undefined], ["erin", "Erin", "admin"]]) {
    const r = await root.client.admin.createUser({ email: email(name), password, name: display, ...(role ? { role } : {}) });
    const data = expectOK(expect, r, name);
    created[name] = data?.user;
  }
  expect(created.bob?.role === "user", "bob: role user (default)", created.bob?.role);
  expect(created.carol?.role === "user,admin", "carol: role \"user,admin\"", created.carol?.role);
  expect(created.erin?.role === "admin", "erin: role admin", created.erin?.role);
});

await check("createUser of a taken email, of an invalid email, without name", async (expect) => {
  expectError(expect, await root.client.admin.createUser({ email: email("alice"), password, name: "Again" }), 400,
    CODES.USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL, "taken");
  expectError(expect, await root.client.admin.createUser({ email: "not-an-email", password, name: "X" }), 400, INVALID_EMAIL, "invalid");
  const r = await root.client.admin.createUser({ email: email("noname"), password });
  expect(r.error?.status === 400 && r.error?.code === "VALIDATION_ERROR", "no name: 400 VALIDATION_ERROR", r.error);
});

// ------------------------------------------------------------ list-users

await check("listUsers {searchValue, limit, offset, sortBy name desc}: {users, total, limit, offset}", async (expect) => {
  const data = expectOK(expect, await root.client.admin.listUsers({
    query: { searchValue: tag, searchField: "email", searchOperator: "contains", sortBy: "name", sortDirection: "desc", limit: 2, offset: 1 },
  }));
  expectKeys(expect, data, ["users", "total", "limit", "offset"], "answer");
  expect(data?.total === 6, "total: every match (plain, alice, bob, carol, dave, erin)", data?.total);
  expect(data?.limit === 2 && data?.offset === 1, "limit 2 and offset 1 echoed as numbers", [data?.limit, data?.offset]);
  // By name, descending: Plain User, Erin, Dave, Carol, Bob, Alice.
  expect(JSON.stringify(data?.users?.map((u) => u.name)) === JSON.stringify(["Erin", "Dave"]), "users: Erin, Dave", data?.users?.map((u) => u.name));
  for (const u of data?.users || []) expectUser(expect, u, "listed user");
});

await check("listUsers without paging: {users, total}, no limit or offset keys; sorted by email asc", async (expect) => {
  const data = expectOK(expect, await root.client.admin.listUsers({ query: { searchValue: tag, sortBy: "email" } }));
  expectKeys(expect, data, ["users", "total"], "answer");
  const emails = data?.users?.map((u) => u.email);
  expect(JSON.stringify(emails) === JSON.stringify(["alice", "bob", "carol", "dave", "erin", "plain"].map(email)), "all six, by email", emails);
  expect(data?.total === 6, "total 6", data?.total);
});

await check("listUsers searchField name, starts_with / ends_with; search is case-sensitive", async (expect) => {
  const a = expectOK(expect, await root.client.admin.listUsers({ query: { searchValue: "Car", searchField: "name", searchOperator: "starts_with" } }));
  expect(a?.users?.some((u) => u.id === created.carol?.id) && a?.users?.every((u) => u.name.startsWith("Car")), "Carol", a?.users?.map((u) => u.name));
  const b = expectOK(expect, await root.client.admin.listUsers({ query: { searchValue: `${tag}@example.com`, searchOperator: "ends_with", sortBy: "email" } }));
  expect(b?.total === 6, "ends_with the tag's domain: 6", b?.total);
  const c = expectOK(expect, await root.client.admin.listUsers({ query: { searchValue: "car", searchField: "name", searchOperator: "starts_with" } }));
  expect(!c?.users?.some((u) => u.id === created.carol?.id), "\"car\" does not find Carol", c?.users?.map((u) => u.name));
});

await check("listUsers filterField role eq admin, ANDed with the search", async (expect) => {
  const data = expectOK(expect, await root.client.admin.listUsers({
    query: { searchValue: tag, filterField: "role", filterValue: "admin", filterOperator: "eq" },
  }));
  expect(data?.total === 1 && data?.users?.[0]?.id === created.erin?.id, "erin only", data?.users?.map((u) => u.email));
});

await check("listUsers with a bad searchOperator: 400 VALIDATION_ERROR", async (expect) => {
  const r = await root.client.admin.listUsers({ query: { searchValue: tag, searchOperator: "like" } });
  expect(r.data === null && r.error?.status === 400 && r.error?.code === "VALIDATION_ERROR", "400 VALIDATION_ERROR", r.error);
  expect(typeof r.error?.message === "string" && r.error.message.startsWith("[query.searchOperator]"), "the message names query.searchOperator", r.error?.message);
});

// ------------------------------------------------------------ get-user, update-user, set-role

await check("getUser {query: {id}}: the bare user; unknown id: 404 USER_NOT_FOUND", async (expect) => {
  const data = expectOK(expect, await root.client.admin.getUser({ query: { id: created.bob?.id } }));
  expectUser(expect, data, "user");
  expect(data?.email === email("bob"), "bob", data?.email);
  expectError(expect, await root.client.admin.getUser({ query: { id: "no-such-user" } }), 404, USER_NOT_FOUND, "unknown");
});

await check("updateUser {userId, data: {name}}: the bare updated user; {} : 400 NO_DATA_TO_UPDATE", async (expect) => {
  const data = expectOK(expect, await root.client.admin.updateUser({ userId: created.dave?.id, data: { name: "David" } }));
  expectUser(expect, data, "user");
  expect(data?.name === "David" && data?.id === created.dave?.id, "renamed", data);
  expectError(expect, await root.client.admin.updateUser({ userId: created.dave?.id, data: {} }), 400, CODES.NO_DATA_TO_UPDATE, "{}");
  expectError(expect, await root.client.admin.updateUser({ userId: created.dave?.id, data: { password: "x" } }), 400,
    CODES.PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER, "password");
});

await check("setRole {userId, role}: {user}; an array is stored comma-joined; unknown user: 404", async (expect) => {
  const a = expectOK(expect, await root.client.admin.setRole({ userId: created.dave?.id, role: "admin" }));
  expectKeys(expect, a, ["user"], "answer");
  expectUser(expect, a?.user, "user");
  expect(a?.user?.role === "admin", "role admin", a?.user?.role);
  const b = expectOK(expect, await root.client.admin.setRole({ userId: created.dave?.id, role: ["user", "support"] }));
  expect(b?.user?.role === "user,support", "role \"user,support\"", b?.user?.role);
  expectError(expect, await root.client.admin.setRole({ userId: "no-such-user", role: "user" }), 404, USER_NOT_FOUND, "unknown");
  const c = await root.client.admin.setRole({ userId: created.dave?.id });
  expect(c.error?.status === 400 && c.error?.code === "VALIDATION_ERROR", "no role: 400 VALIDATION_ERROR", c.error);
});

// ------------------------------------------------------------ ban

const bob = browser("bob");

await check("banUser {userId, banReason, banExpiresIn}: {user} banned; bob's live session ends", async (expect) => {
  expectOK(expect, await bob.client.signIn.email({ email: email("bob"), password }), "bob signs in");
  const before = Date.now();
  const data = expectOK(expect, await root.client.admin.banUser({ userId: created.bob?.id, banReason: "spam", banExpiresIn: 3600 }));
  expectKeys(expect, data, ["user"], "answer");
  expectUser(expect, data?.user, "user");
  expect(data?.user?.banned === true && data?.user?.banReason === "spam", "banned, banReason spam", data?.user);
  const exp = data?.user?.banExpires;
  expect(isDate(exp) && Math.abs(exp.getTime() - (before + 3600e3)) < 60e3, "banExpires ≈ now + 3600 s", exp);
  const s = await bob.client.getSession();
  expect(s.error === null && s.data === null, "bob's getSession: null", s);
});

await check("the banned user's sign-in: 403 BANNED_USER with the ban message", async (expect) => {
  const r = await bob.client.signIn.email({ email: email("bob"), password });
  expectError(expect, r, 403, { code: "BANNED_USER", message: BANNED_MESSAGE });
  expect(!bob.jar.get(SESSION_COOKIE), "no session cookie", [...bob.jar.cookies.keys()]);
});

await check("banUser without a reason: \"No reason\", no expiry; oneself: 400 YOU_CANNOT_BAN_YOURSELF; unknown: 404", async (expect) => {
  const data = expectOK(expect, await root.client.admin.banUser({ userId: created.dave?.id }));
  expect(data?.user?.banned === true && data?.user?.banReason === "No reason" && data?.user?.banExpires === null,
    "banReason \"No reason\", banExpires null", data?.user);
  expectError(expect, await root.client.admin.banUser({ userId: rootId }), 400, CODES.YOU_CANNOT_BAN_YOURSELF, "oneself");
  expectError(expect, await root.client.admin.banUser({ userId: "no-such-user" }), 404, USER_NOT_FOUND, "unknown");
});

await check("unbanUser: {user} with banned false, banReason null, banExpires null; bob signs in again", async (expect) => {
  const data = expectOK(expect, await root.client.admin.unbanUser({ userId: created.bob?.id }));
  expectKeys(expect, data, ["user"], "answer");
  expectUser(expect, data?.user, "user");
  expect(data?.user?.banned === false && data?.user?.banReason === null && data?.user?.banExpires === null, "unbanned", data?.user);
  const s = expectOK(expect, await bob.client.signIn.email({ email: email("bob"), password }), "bob signs in");
  expect(s?.user?.banned === false, "user.banned false", s?.user);
  expectOK(expect, await root.client.admin.unbanUser({ userId: created.dave?.id }), "dave unbanned");
});

// ------------------------------------------------------------ impersonation

let impersonationToken;

await check("impersonateUser {userId}: {session, user}; the cookies switch to bob, the admin's kept in admin_session", async (expect) => {
  const got = capture();
  const before = Date.now();
  const data = expectOK(expect, await root.client.admin.impersonateUser({ userId: created.bob?.id }, got.options));
  expectKeys(expect, data, ["session", "user"], "answer");
  expectKeys(expect, data?.session, ADMIN_SESSION_KEYS, "session");
  expectUser(expect, data?.user, "user");
  expect(data?.user?.id === created.bob?.id, "user: bob", data?.user?.email);
  expect(data?.session?.userId === created.bob?.id && data?.session?.impersonatedBy === rootId, "session of bob, impersonatedBy the admin", data?.session);
  const exp = data?.session?.expiresAt;
  expect(isDate(exp) && Math.abs(exp.getTime() - (before + 3600e3)) < 60e3, "expiresAt ≈ now + 1 h", exp);
  impersonationToken = data?.session?.token;
  const lines = got.headers?.getSetCookie() || [];
  const adminLine = cookieLine(lines, ADMIN_SESSION_COOKIE);
  const a = cookieAttrs(adminLine);
  expect(!!adminLine && a.httponly === true && a.path === "/" && (a.samesite || "").toLowerCase() === "lax" && a["max-age"] === "604800",
    "admin_session: the session cookie's attributes", adminLine);
  expect(tokenOf(root.jar.get(ADMIN_SESSION_COOKIE)) === `${rootToken}:`, "admin_session signs \"<admin token>:\"", decodeURIComponent(root.jar.get(ADMIN_SESSION_COOKIE) || ""));
  expect(tokenOf(root.jar.get(SESSION_COOKIE)) === impersonationToken, "session_token: the impersonation session", root.jar.get(SESSION_COOKIE));
  expect(!!root.jar.get(DONT_REMEMBER_COOKIE), "dont_remember set (not a remembered session)", [...root.jar.cookies.keys()]);
  const sessionLine = cookieLine(lines, SESSION_COOKIE);
  expect(sessionLine && cookieAttrs(sessionLine)["max-age"] === undefined, "session_token without Max-Age (ends with the browser)", sessionLine);
});

await check("while impersonating: getSession is bob's, the admin routes answer as bob (403)", async (expect) => {
  const s = expectOK(expect, await root.client.getSession(), "getSession");
  expect(s?.user?.id === created.bob?.id && s?.session?.impersonatedBy === rootId, "bob, impersonatedBy the admin", s?.session);
  expectError(expect, await root.client.admin.listUsers({ query: {} }), 403, CODES.YOU_ARE_NOT_ALLOWED_TO_LIST_USERS, "listUsers");
  const l = expectOK(expect, await bob.client.listSessions(), "bob's listSessions");
  expect(Array.isArray(l) && l.length >= 1 && l.every((x) => x.impersonatedBy == null && x.token !== impersonationToken),
    "bob's own list hides the impersonation session", l);
});

await check("stopImpersonating: {session, user} of the admin; the admin's cookie restored, admin_session expired", async (expect) => {
  const got = capture();
  const data = expectOK(expect, await root.client.admin.stopImpersonating({}, got.options));
  expectKeys(expect, data, ["session", "user"], "answer");
  expectKeys(expect, data?.session, ADMIN_SESSION_KEYS, "session");
  expect(data?.user?.id === rootId && data?.session?.token === rootToken, "the admin's own session", data?.session);
  expect(tokenOf(root.jar.get(SESSION_COOKIE)) === rootToken, "session_token: the admin's again", root.jar.get(SESSION_COOKIE));
  expect(!root.jar.get(ADMIN_SESSION_COOKIE), "admin_session expired", [...root.jar.cookies.keys()]);
  const s = expectOK(expect, await root.client.getSession(), "getSession");
  expect(s?.user?.id === rootId && s?.session?.impersonatedBy === null, "the admin, not impersonated", s?.session);
  const sessions = expectOK(expect, await root.client.admin.listUserSessions({ userId: created.bob?.id }), "listUserSessions");
  expect(!sessions?.sessions?.some((x) => x.token === impersonationToken), "the impersonation session is gone", sessions);
});

await check("stopImpersonating when not impersonating: 400 \"You are not impersonating anyone\" (message only)", async (expect) => {
  expectError(expect, await root.client.admin.stopImpersonating(), 400, { message: "You are not impersonating anyone" });
});

await check("impersonateUser of an admin: 403 YOU_CANNOT_IMPERSONATE_ADMINS; unknown: 404", async (expect) => {
  expectError(expect, await root.client.admin.impersonateUser({ userId: created.erin?.id }), 403, CODES.YOU_CANNOT_IMPERSONATE_ADMINS, "role admin");
  expectError(expect, await root.client.admin.impersonateUser({ userId: created.carol?.id }), 403, CODES.YOU_CANNOT_IMPERSONATE_ADMINS, "role user,admin");
  expectError(expect, await root.client.admin.impersonateUser({ userId: "no-such-user" }), 404, USER_NOT_FOUND, "unknown");
  expect(tokenOf(root.jar.get(SESSION_COOKIE)) === rootToken, "the admin's cookie untouched", root.jar.get(SESSION_COOKIE));
});

// ------------------------------------------------------------ sessions

await check("listUserSessions {userId}: {sessions: [full sessions with token and impersonatedBy]}; unknown user: []", async (expect) => {
  const bob2 = browser("bob-2");
  expectOK(expect, await bob2.client.signIn.email({ email: email("bob"), password }), "bob signs in a second time");
  const data = expectOK(expect, await root.client.admin.listUserSessions({ userId: created.bob?.id }));
  expectKeys(expect, data, ["sessions"], "answer");
  expect(data?.sessions?.length === 2, "two sessions", data?.sessions?.length);
  for (const s of data?.sessions || []) {
    expectKeys(expect, s, ADMIN_SESSION_KEYS, "session");
    expect(s.userId === created.bob?.id && isStr(s.token) && isDate(s.expiresAt), "bob's, with token and expiresAt", s);
  }
  const tokens = (data?.sessions || []).map((s) => s.token).sort();
  const jarTokens = [bob, bob2].map((b) => tokenOf(b.jar.get(SESSION_COOKIE))).sort();
  expect(JSON.stringify(tokens) === JSON.stringify(jarTokens), "the tokens of bob's two browsers", [tokens, jarTokens]);
  const none = expectOK(expect, await root.client.admin.listUserSessions({ userId: "no-such-user" }), "unknown");
  expect(Array.isArray(none?.sessions) && none.sessions.length === 0, "{sessions: []}", none);
});

await check("revokeUserSession {sessionToken}: {success:true}, that browser signed out; unknown token: success too", async (expect) => {
  const token = tokenOf(bob.jar.get(SESSION_COOKIE));
  const data = expectOK(expect, await root.client.admin.revokeUserSession({ sessionToken: token }));
  expectKeys(expect, data, ["success"], "answer");
  expect(data?.success === true, "success true", data);
  const s = await bob.client.getSession();
  expect(s.data === null, "bob's first browser: no session", s.data);
  const again = expectOK(expect, await root.client.admin.revokeUserSession({ sessionToken: "no-such-token" }), "unknown");
  expect(again?.success === true, "success true", again);
  const left = expectOK(expect, await root.client.admin.listUserSessions({ userId: created.bob?.id }), "list");
  expect(left?.sessions?.length === 1 && left.sessions[0].token !== token, "one session left", left?.sessions?.length);
});

await check("revokeUserSessions {userId}: {success:true}, none left", async (expect) => {
  const data = expectOK(expect, await root.client.admin.revokeUserSessions({ userId: created.bob?.id }));
  expectKeys(expect, data, ["success"], "answer");
  expect(data?.success === true, "success true", data);
  const left = expectOK(expect, await root.client.admin.listUserSessions({ userId: created.bob?.id }), "list");
  expect(left?.sessions?.length === 0, "no sessions", left?.sessions);
});

// ------------------------------------------------------------ set-user-password

await check("setUserPassword {userId, newPassword}: {status:true}; the new password signs in, the old one not", async (expect) => {
  const data = expectOK(expect, await root.client.admin.setUserPassword({ userId: created.bob?.id, newPassword: "a-brand-new-password" }));
  expectKeys(expect, data, ["status"], "answer");
  expect(data?.status === true, "status true", data);
  const b = browser("bob-3");
  expectError(expect, await b.client.signIn.email({ email: email("bob"), password }), 401, INVALID_EMAIL_OR_PASSWORD, "old password");
  expectOK(expect, await b.client.signIn.email({ email: email("bob"), password: "a-brand-new-password" }), "new password");
});

await check("setUserPassword too short: 400 PASSWORD_TOO_SHORT; unknown user: 404", async (expect) => {
  expectError(expect, await root.client.admin.setUserPassword({ userId: created.bob?.id, newPassword: "short" }), 400, PASSWORD_TOO_SHORT, "short");
  expectError(expect, await root.client.admin.setUserPassword({ userId: "no-such-user", newPassword: "long-enough-password" }), 404, USER_NOT_FOUND, "unknown");
});

// ------------------------------------------------------------ has-permission

await check("hasPermission {permissions}: {error:null, success} for the session's role", async (expect) => {
  const a = expectOK(expect, await root.client.admin.hasPermission({ permissions: { user: ["ban", "list"], session: ["revoke"] } }), "admin");
  expectKeys(expect, a, ["error", "success"], "answer");
  expect(a?.error === null && a?.success === true, "admin: success true", a);
  const b = expectOK(expect, await root.client.admin.hasPermission({ permissions: { user: ["impersonate-admins"] } }), "admin, impersonate-admins");
  expect(b?.success === false, "impersonate-admins: in no default role", b);
  const c = expectOK(expect, await user.client.admin.hasPermission({ permissions: { user: ["list"] } }), "user");
  expect(c?.error === null && c?.success === false, "user: success false", c);
  const d = expectOK(expect, await user.client.admin.hasPermission({ permissions: { user: ["list"] }, role: "admin" }), "user naming role admin");
  expect(d?.success === false, "the session's role counts, not the body's", d);
});

await check("hasPermission without permissions: 400 VALIDATION_ERROR; without a session: 401, empty body", async (expect) => {
  const r = await root.client.admin.hasPermission({ userId: rootId });
  expect(r.data === null && r.error?.status === 400 && r.error?.code === "VALIDATION_ERROR", "400 VALIDATION_ERROR", r.error);
  expectError(expect, await browser("anonymous").client.admin.hasPermission({ permissions: { user: ["list"] } }), 401, {}, "anonymous");
});

// ------------------------------------------------------------ remove-user

await check("removeUser {userId}: {success:true}; the user is gone and cannot sign in", async (expect) => {
  const data = expectOK(expect, await root.client.admin.removeUser({ userId: created.alice?.id }));
  expectKeys(expect, data, ["success"], "answer");
  expect(data?.success === true, "success true", data);
  expectError(expect, await root.client.admin.getUser({ query: { id: created.alice?.id } }), 404, USER_NOT_FOUND, "getUser");
  expectError(expect, await browser("alice-2").client.signIn.email({ email: email("alice"), password }), 401, INVALID_EMAIL_OR_PASSWORD, "sign-in");
  const l = expectOK(expect, await root.client.admin.listUsers({ query: { searchValue: tag } }), "listUsers");
  expect(l?.total === 5, "five users left", l?.total);
});

await check("removeUser of oneself: 400 YOU_CANNOT_REMOVE_YOURSELF; unknown: 404", async (expect) => {
  expectError(expect, await root.client.admin.removeUser({ userId: rootId }), 400, CODES.YOU_CANNOT_REMOVE_YOURSELF, "oneself");
  expectError(expect, await root.client.admin.removeUser({ userId: "no-such-user" }), 404, USER_NOT_FOUND, "unknown");
});

// ------------------------------------------------------------ access control

await check("a user on every admin route: 403 with the route's code", async (expect) => {
  const target = created.dave?.id;
  const calls = [
    ["listUsers", () => user.client.admin.listUsers({ query: {} }), CODES.YOU_ARE_NOT_ALLOWED_TO_LIST_USERS],
    ["getUser", () => user.client.admin.getUser({ query: { id: target } }), CODES.YOU_ARE_NOT_ALLOWED_TO_GET_USER],
    ["createUser", () => user.client.admin.createUser({ email: email("sneaky"), password, name: "Sneaky" }), CODES.YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS],
    ["updateUser", () => user.client.admin.updateUser({ userId: target, data: { name: "Owned" } }), CODES.YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS],
    ["setRole", () => user.client.admin.setRole({ userId: created.plain?.id, role: "admin" }), CODES.YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE],
    ["banUser", () => user.client.admin.banUser({ userId: target }), CODES.YOU_ARE_NOT_ALLOWED_TO_BAN_USERS],
    ["unbanUser", () => user.client.admin.unbanUser({ userId: target }), CODES.YOU_ARE_NOT_ALLOWED_TO_BAN_USERS],
    ["listUserSessions", () => user.client.admin.listUserSessions({ userId: target }), CODES.YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS],
    ["revokeUserSession", () => user.client.admin.revokeUserSession({ sessionToken: rootToken }), CODES.YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS],
    ["revokeUserSessions", () => user.client.admin.revokeUserSessions({ userId: rootId }), CODES.YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS],
    ["removeUser", () => user.client.admin.removeUser({ userId: target }), CODES.YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS],
    ["setUserPassword", () => user.client.admin.setUserPassword({ userId: rootId, newPassword: "taken-over-password" }), CODES.YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD],
    ["impersonateUser", () => user.client.admin.impersonateUser({ userId: target }), CODES.YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS],
  ];
  for (const [name, call, want] of calls) expectError(expect, await call(), 403, want, name);
  const s = expectOK(expect, await root.client.getSession(), "the admin's session");
  expect(s?.session?.token === rootToken, "still valid", s?.session);
  const d = expectOK(expect, await root.client.admin.getUser({ query: { id: target } }), "dave");
  expect(d?.name === "David" && d?.banned === false, "dave untouched", d);
  const me = expectOK(expect, await user.client.getSession(), "the user's session");
  expect(me?.user?.role === "user", "the user is still a user", me?.user?.role);
});

await check("a user setting their own role through update-user: 400 FIELD_NOT_ALLOWED", async (expect) => {
  const r = await user.client.updateUser({ role: "admin" });
  expect(r.data === null && r.error?.status === 400 && r.error?.code === "FIELD_NOT_ALLOWED", "400 FIELD_NOT_ALLOWED", r.error);
  const me = expectOK(expect, await user.client.getSession(), "getSession");
  expect(me?.user?.role === "user", "role still user", me?.user?.role);
});

await check("without a session: the admin routes answer 401 with an empty body", async (expect) => {
  const anon = browser("anonymous");
  const calls = [
    ["listUsers", () => anon.client.admin.listUsers({ query: {} })],
    ["getUser", () => anon.client.admin.getUser({ query: { id: rootId } })],
    ["createUser", () => anon.client.admin.createUser({ email: email("anon"), password, name: "Anon" })],
    ["setRole", () => anon.client.admin.setRole({ userId: rootId, role: "user" })],
    ["banUser", () => anon.client.admin.banUser({ userId: rootId })],
    ["removeUser", () => anon.client.admin.removeUser({ userId: rootId })],
    ["impersonateUser", () => anon.client.admin.impersonateUser({ userId: rootId })],
    ["stopImpersonating", () => anon.client.admin.stopImpersonating()],
  ];
  for (const [name, call] of calls) expectError(expect, await call(), 401, {}, name);
  const s = expectOK(expect, await root.client.admin.getUser({ query: { id: rootId } }), "the admin");
  expect(s?.role === "admin" && s?.banned === false, "untouched", keys(s));
});

summary();
