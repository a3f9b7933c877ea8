// Drives a server's username routes (Better Auth 1.7's username plugin,
// spec better-auth-plugins-wire.md §5) with Better Auth's own JS client and
// its usernameClient(): signUp.email with username / displayUsername,
// signIn.username, isUsernameAvailable, updateUser {username}, and the
// plugin's error codes (400 on sign-up and update-user, 422 on sign-in and
// is-username-available, 401 INVALID_USERNAME_OR_PASSWORD alike for a
// wrong password and an unknown username).
//
//   node username-client.mjs <baseURL>
//
// The server must have the username plugin with its default options.
//
// Prints one line per check and finally "N passed, M failed"; exits 1 on
// any failure.

import { usernameClient, USERNAME_ERROR_CODES as CODES } from "better-auth/client/plugins";
import { setup, isDate, isStr, expectKeys, expectError, expectOK, tokenOf, uniq, USER_KEYS, SESSION_COOKIE } from "./plugin-lib.mjs";

const S = "username-client.mjs";
const { check, summary, browser } = setup(S, () => [usernameClient()]);

const USERNAME_USER_KEYS = [...USER_KEYS, "username", "displayUsername"];
const tag = uniq();
const short = tag.slice(-6); // usernames are at most 30 characters
const password = "username-client-password-1";
const email = (name) => `${name}.${tag}@example.com`;
const unprocessable = (code) => ({ ...code }); // the same code and message, answered 422

const ada = browser("ada");
const names = {
  ada: `Ada_L.${short}`, // as typed; stored lower-cased
  grace: `grace_${short}`,
  display: `Hopper_${short}`, // given as displayUsername alone
};
let adaId;

// ------------------------------------------------------------ sign-up

await check("signUp.email {username, displayUsername?}: username lower-cased, displayUsername as typed", async (expect) => {
  const data = expectOK(expect, await ada.client.signUp.email({ name: "Ada", email: email("ada"), password, username: names.ada }));
  expectKeys(expect, data, ["token", "user"], "answer");
  expectKeys(expect, data?.user, USERNAME_USER_KEYS, "user");
  expect(data?.user?.username === names.ada.toLowerCase(), "username lower-cased", data?.user?.username);
  expect(data?.user?.displayUsername === names.ada, "displayUsername: the username as typed", data?.user?.displayUsername);
  adaId = data?.user?.id;
  const grace = browser("grace");
  const g = expectOK(expect, await grace.client.signUp.email({
    name: "Grace", email: email("grace"), password, username: names.grace, displayUsername: "Amazing Grace",
  }), "grace");
  expect(g?.user?.username === names.grace && g?.user?.displayUsername === "Amazing Grace", "displayUsername given apart", g?.user);
});

await check("signUp.email with a valid displayUsername alone: it becomes the username too", async (expect) => {
  const data = expectOK(expect, await browser("hopper").client.signUp.email({ name: "Hopper", email: email("hopper"), password, displayUsername: names.display }));
  expect(data?.user?.username === names.display.toLowerCase() && data?.user?.displayUsername === names.display,
    "username = displayUsername lower-cased", data?.user);
});

await check("signUp.email without username: username and displayUsername null", async (expect) => {
  const data = expectOK(expect, await browser("plain").client.signUp.email({ name: "Plain", email: email("plain"), password }));
  expectKeys(expect, data?.user, USERNAME_USER_KEYS, "user");
  expect(data?.user?.username === null && data?.user?.displayUsername === null, "both null", data?.user);
});

await check("signUp.email with a taken username (another case): 400 USERNAME_IS_ALREADY_TAKEN, no user created", async (expect) => {
  const b = browser("copycat");
  expectError(expect, await b.client.signUp.email({ name: "Copy", email: email("copycat"), password, username: names.ada.toUpperCase() }), 400,
    CODES.USERNAME_IS_ALREADY_TAKEN);
  expect(!b.jar.get(SESSION_COOKIE), "no session cookie", [...b.jar.cookies.keys()]);
  expectError(expect, await b.client.signIn.email({ email: email("copycat"), password }), 401,
    { code: "INVALID_EMAIL_OR_PASSWORD", message: "Invalid email or password" }, "no such account");
});

await check("signUp.email with an invalid username: 400 USERNAME_TOO_SHORT / USERNAME_TOO_LONG / INVALID_USERNAME", async (expect) => {
  for (const [username, want] of [["ab", CODES.USERNAME_TOO_SHORT], ["a".repeat(31), CODES.USERNAME_TOO_LONG], ["ada-lovelace", CODES.INVALID_USERNAME], ["ada l", CODES.INVALID_USERNAME]]) {
    expectError(expect, await browser("invalid").client.signUp.email({ name: "X", email: email(`x${username.length}`), password, username }), 400, want, JSON.stringify(username));
  }
});

// ------------------------------------------------------------ sign-in

await check("signIn.username (another case): {redirect:false, token, user} and the session cookie", async (expect) => {
  const b = browser("ada-2");
  const data = expectOK(expect, await b.client.signIn.username({ username: names.ada.toUpperCase(), password }));
  expectKeys(expect, data, ["redirect", "token", "user"], "answer");
  expect(data?.redirect === false && isStr(data?.token), "redirect false, a token", data);
  expectKeys(expect, data?.user, USERNAME_USER_KEYS, "user");
  expect(data?.user?.id === adaId && data?.user?.email === email("ada"), "ada", data?.user);
  expect(isDate(data?.user?.createdAt), "dates", data?.user?.createdAt);
  expect(tokenOf(b.jar.get(SESSION_COOKIE)) === data?.token, "the session cookie carries the token", b.jar.get(SESSION_COOKIE));
  const s = expectOK(expect, await b.client.getSession(), "getSession");
  expect(s?.user?.id === adaId && s?.user?.username === names.ada.toLowerCase(), "signed in as ada", s?.user);
});

await check("signIn.username with a wrong password and with an unknown username: the same 401 INVALID_USERNAME_OR_PASSWORD", async (expect) => {
  const b = browser("guesser");
  const wrong = await b.client.signIn.username({ username: names.ada, password: "not-the-password" });
  expectError(expect, wrong, 401, CODES.INVALID_USERNAME_OR_PASSWORD, "wrong password");
  const unknown = await b.client.signIn.username({ username: `nobody_${short}`, password });
  expectError(expect, unknown, 401, CODES.INVALID_USERNAME_OR_PASSWORD, "unknown username");
  expect(!b.jar.get(SESSION_COOKIE), "no session cookie", [...b.jar.cookies.keys()]);
});

await check("signIn.username with an invalid username: 422 USERNAME_TOO_SHORT / INVALID_USERNAME; no password: 400 VALIDATION_ERROR", async (expect) => {
  const b = browser("invalid");
  expectError(expect, await b.client.signIn.username({ username: "ab", password }), 422, unprocessable(CODES.USERNAME_TOO_SHORT), "too short");
  expectError(expect, await b.client.signIn.username({ username: "a".repeat(31), password }), 422, unprocessable(CODES.USERNAME_TOO_LONG), "too long");
  expectError(expect, await b.client.signIn.username({ username: "ada-lovelace", password }), 422, unprocessable(CODES.INVALID_USERNAME), "invalid");
  const r = await b.client.signIn.username({ username: names.ada });
  expect(r.data === null && r.error?.status === 400 && r.error?.code === "VALIDATION_ERROR", "no password: 400 VALIDATION_ERROR", r.error);
});

// ------------------------------------------------------------ is-username-available

await check("isUsernameAvailable: {available} on the normalised name; invalid: 422; missing: 400", async (expect) => {
  const taken = expectOK(expect, await ada.client.isUsernameAvailable({ username: names.ada.toUpperCase() }), "taken");
  expectKeys(expect, taken, ["available"], "answer");
  expect(taken?.available === false, "taken (any case): false", taken);
  const free = expectOK(expect, await browser("anonymous").client.isUsernameAvailable({ username: `free_${short}` }), "free");
  expect(free?.available === true, "free: true (no session needed)", free);
  expectError(expect, await ada.client.isUsernameAvailable({ username: "ab" }), 422, unprocessable(CODES.USERNAME_TOO_SHORT), "too short");
  expectError(expect, await ada.client.isUsernameAvailable({ username: "no spaces" }), 422, unprocessable(CODES.INVALID_USERNAME), "invalid");
  // An empty body would make the client send a GET: POST it explicitly.
  const r = await ada.client.isUsernameAvailable({}, { method: "POST" });
  expect(r.data === null && r.error?.status === 400 && r.error?.code === "VALIDATION_ERROR", "missing: 400 VALIDATION_ERROR", r.error);
});

// ------------------------------------------------------------ update-user

await check("updateUser {username}: {status:true}; the new name signs in, the old one is free; displayUsername unchanged", async (expect) => {
  const renamed = `Lovelace_${short}`;
  const data = expectOK(expect, await ada.client.updateUser({ username: renamed }));
  expectKeys(expect, data, ["status"], "answer");
  expect(data?.status === true, "status true", data);
  const s = expectOK(expect, await ada.client.getSession(), "getSession");
  expect(s?.user?.username === renamed.toLowerCase(), "username lower-cased", s?.user?.username);
  expect(s?.user?.displayUsername === names.ada, "displayUsername not changed", s?.user?.displayUsername);
  const old = expectOK(expect, await ada.client.isUsernameAvailable({ username: names.ada }), "old name");
  expect(old?.available === true, "the old username is free", old);
  const b = browser("ada-3");
  const r = expectOK(expect, await b.client.signIn.username({ username: renamed, password }), "sign-in with the new name");
  expect(r?.user?.id === adaId, "ada", r?.user);
  expectError(expect, await b.client.signIn.username({ username: names.ada, password }), 401, CODES.INVALID_USERNAME_OR_PASSWORD, "the old name");
  names.ada = renamed;
});

await check("updateUser {username} of another user: 400 USERNAME_IS_ALREADY_TAKEN; one's own in another case: allowed", async (expect) => {
  expectError(expect, await ada.client.updateUser({ username: names.grace.toUpperCase() }), 400, CODES.USERNAME_IS_ALREADY_TAKEN, "grace's");
  const own = expectOK(expect, await ada.client.updateUser({ username: names.ada.toUpperCase() }), "one's own");
  expect(own?.status === true, "status true", own);
  const s = expectOK(expect, await ada.client.getSession(), "getSession");
  expect(s?.user?.username === names.ada.toLowerCase(), "still ada's name", s?.user?.username);
});

await check("updateUser {username} invalid: 400 USERNAME_TOO_SHORT / INVALID_USERNAME; nothing changed", async (expect) => {
  expectError(expect, await ada.client.updateUser({ username: "ab" }), 400, CODES.USERNAME_TOO_SHORT, "too short");
  expectError(expect, await ada.client.updateUser({ username: "not valid!" }), 400, CODES.INVALID_USERNAME, "invalid");
  const s = expectOK(expect, await ada.client.getSession(), "getSession");
  expect(s?.user?.username === names.ada.toLowerCase(), "username unchanged", s?.user?.username);
});

summary();
