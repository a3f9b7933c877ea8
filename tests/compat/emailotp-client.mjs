// Drives a server's email-otp routes (Better Auth 1.7's emailOTP plugin,
// spec better-auth-plugins-wire.md §4) with Better Auth's own JS client and
// its emailOTPClient(): emailOtp.sendVerificationOtp for each type,
// signIn.emailOtp (a new and an existing user), emailOtp.verifyEmail,
// emailOtp.checkVerificationOtp, forgetPassword.emailOtp,
// emailOtp.requestPasswordReset and emailOtp.resetPassword, a code used
// once and for its own type only, and TOO_MANY_ATTEMPTS after the
// allowed wrong guesses.
//
//   node emailotp-client.mjs <baseURL>
//
// The server must have the email-otp plugin with its default options (6
// digits, 3 attempts), sign in after email verification, end a user's
// sessions when their password is reset, and serve
// GET <baseURL>/__test/otp?email=<email>&type=<type>[&wait=<ms>]
// answering {otp}, the newest code mailed to that address for that type
// and not read yet, waiting up to wait ms (default 3000) for one; 404 if
// none came.
//
// Prints one line per check and finally "N passed, M failed"; exits 1 on
// any failure.

import { emailOTPClient, EMAIL_OTP_ERROR_CODES as CODES } from "better-auth/client/plugins";
import { setup, isStr, expectKeys, expectError, expectOK, tokenOf, uniq, USER_KEYS, SESSION_COOKIE } from "./plugin-lib.mjs";

const S = "emailotp-client.mjs";
const { check, summary, browser, baseURL } = setup(S, () => [emailOTPClient()]);

const tag = uniq();
const password = "emailotp-client-password-1";
const email = (name) => `${name}.${tag}@example.com`;
const INVALID_EMAIL = { code: "INVALID_EMAIL", message: "Invalid email" };
const PASSWORD_TOO_SHORT = { code: "PASSWORD_TOO_SHORT", message: "Password too short" };
const INVALID_EMAIL_OR_PASSWORD = { code: "INVALID_EMAIL_OR_PASSWORD", message: "Invalid email or password" };

// mailedCode returns the code mailed to addr for type (undefined if none
// came within wait ms).
async function mailedCode(addr, type, wait = 3000) {
  const res = await fetch(`${baseURL}/__test/otp?email=${encodeURIComponent(addr)}&type=${type}&wait=${wait}`);
  const body = await res.json();
  return res.ok ? body?.otp : undefined;
}

// wrong returns a code of the same length that is not code.
const wrong = (code) => (code || "000000").replace(/^./, (d) => String((Number(d) + 1) % 10));

// send asks for a code of type for addr through the client and returns it
// as mailed.
async function send(expect, b, addr, type) {
  const data = expectOK(expect, await b.client.emailOtp.sendVerificationOtp({ email: addr, type }), `send ${type}`);
  expectKeys(expect, data, ["success"], "send answer");
  expect(data?.success === true, "success true", data);
  const code = await mailedCode(addr, type);
  expect(/^[0-9]{6}$/.test(code || ""), `a 6-digit ${type} code is mailed`, code);
  return code;
}

const newbie = browser("newbie");
let newbieId;

// ------------------------------------------------------------ sign-in

await check("sendVerificationOtp {type: sign-in} for a new email: {success:true}, a code is mailed", async (expect) => {
  await send(expect, newbie, email("newbie"), "sign-in");
});

let signInCode;

await check("signIn.emailOtp of a new email: {token, user}, the user created with the address verified, a session", async (expect) => {
  signInCode = await send(expect, newbie, email("newbie"), "sign-in");
  const data = expectOK(expect, await newbie.client.signIn.emailOtp({ email: email("newbie").toUpperCase(), otp: signInCode, name: "Newbie" }));
  expectKeys(expect, data, ["token", "user"], "answer");
  expectKeys(expect, data?.user, USER_KEYS, "user");
  expect(data?.user?.email === email("newbie") && data?.user?.name === "Newbie" && data?.user?.emailVerified === true,
    "email lower-cased, name, emailVerified true", data?.user);
  expect(isStr(data?.token) && tokenOf(newbie.jar.get(SESSION_COOKIE)) === data?.token, "the session cookie carries the token", newbie.jar.get(SESSION_COOKIE));
  newbieId = data?.user?.id;
  const s = expectOK(expect, await newbie.client.getSession(), "getSession");
  expect(s?.user?.id === newbieId, "signed in", s?.user);
  const accounts = expectOK(expect, await newbie.client.listAccounts(), "listAccounts");
  expect(Array.isArray(accounts) && accounts.length === 0, "no account row (no password)", accounts);
});

await check("signIn.emailOtp with the same code again: 400 INVALID_OTP (used once)", async (expect) => {
  expectError(expect, await browser("replay").client.signIn.emailOtp({ email: email("newbie"), otp: signInCode }), 400, CODES.INVALID_OTP);
});

await check("checkVerificationOtp {email, type, otp}: {success:true}, the code stays usable; then signIn.emailOtp of the existing user", async (expect) => {
  const b = browser("newbie-2");
  const code = await send(expect, b, email("newbie"), "sign-in");
  const c = expectOK(expect, await b.client.emailOtp.checkVerificationOtp({ email: email("newbie"), type: "sign-in", otp: code }), "check");
  expectKeys(expect, c, ["success"], "check answer");
  expect(c?.success === true, "success true", c);
  const data = expectOK(expect, await b.client.signIn.emailOtp({ email: email("newbie"), otp: code }), "sign-in");
  expect(data?.user?.id === newbieId && data?.user?.name === "Newbie", "the same user, unchanged", data?.user);
  expectError(expect, await b.client.emailOtp.checkVerificationOtp({ email: email("newbie"), type: "sign-in", otp: code }), 400, CODES.INVALID_OTP, "check after use");
});

await check("checkVerificationOtp with a wrong code: 400 INVALID_OTP; another type's code: 400 INVALID_OTP", async (expect) => {
  const b = browser("checker");
  const code = await send(expect, b, email("newbie"), "sign-in");
  expectError(expect, await b.client.emailOtp.checkVerificationOtp({ email: email("newbie"), type: "sign-in", otp: wrong(code) }), 400, CODES.INVALID_OTP, "wrong");
  expectError(expect, await b.client.emailOtp.checkVerificationOtp({ email: email("newbie"), type: "forget-password", otp: code }), 400, CODES.INVALID_OTP, "another type");
  expectError(expect, await b.client.emailOtp.verifyEmail({ email: email("newbie"), otp: code }), 400, CODES.INVALID_OTP, "a sign-in code for verify-email");
});

await check("signIn.emailOtp of an existing unverified account: the mailbox takes it over (password and sessions dropped)", async (expect) => {
  const squatter = browser("squatter");
  const up = expectOK(expect, await squatter.client.signUp.email({ name: "Squatter", email: email("owner"), password }), "someone signs the address up");
  expect(up?.user?.emailVerified === false, "unverified", up?.user);
  const owner = browser("owner");
  const code = await send(expect, owner, email("owner"), "sign-in");
  const data = expectOK(expect, await owner.client.signIn.emailOtp({ email: email("owner"), otp: code }), "the mailbox's owner signs in");
  expect(data?.user?.id === up?.user?.id && data?.user?.emailVerified === true, "the same account, now verified", data?.user);
  const s = await squatter.client.getSession();
  expect(s.error === null && s.data === null, "the squatter's session ended", s.data);
  expectError(expect, await browser("squatter-2").client.signIn.email({ email: email("owner"), password }), 401, INVALID_EMAIL_OR_PASSWORD,
    "the squatter's password");
  const accounts = expectOK(expect, await owner.client.listAccounts(), "listAccounts");
  expect(Array.isArray(accounts) && accounts.length === 0, "no account left", accounts);
});

await check("one code, five concurrent signIn.emailOtp: exactly one session, the others 400 INVALID_OTP", async (expect) => {
  const racers = [1, 2, 3, 4, 5].map((i) => browser(`racer-${i}`));
  const code = await send(expect, racers[0], email("newbie"), "sign-in");
  const answers = await Promise.all(racers.map((b) => b.client.signIn.emailOtp({ email: email("newbie"), otp: code })));
  const won = answers.filter((r) => r.error === null);
  expect(won.length === 1 && won[0].data?.user?.id === newbieId, "one winner", answers.map((r) => r.error?.code ?? "ok"));
  for (const r of answers.filter((r) => r.error !== null)) expectError(expect, r, 400, CODES.INVALID_OTP, "a loser");
  expect(racers.filter((b) => b.jar.get(SESSION_COOKIE)).length === 1, "one browser holds a session", racers.map((b) => !!b.jar.get(SESSION_COOKIE)));
});

// ------------------------------------------------------------ attempts

await check("three wrong codes (400 INVALID_OTP each), then the right one: 403 TOO_MANY_ATTEMPTS, then 400 INVALID_OTP", async (expect) => {
  const b = browser("attacker");
  const code = await send(expect, b, email("newbie"), "sign-in");
  for (let i = 1; i <= 3; i++) {
    expectError(expect, await b.client.signIn.emailOtp({ email: email("newbie"), otp: wrong(code) }), 400, CODES.INVALID_OTP, `wrong guess ${i}`);
  }
  expectError(expect, await b.client.signIn.emailOtp({ email: email("newbie"), otp: code }), 403, CODES.TOO_MANY_ATTEMPTS, "the right code");
  expectError(expect, await b.client.signIn.emailOtp({ email: email("newbie"), otp: code }), 400, CODES.INVALID_OTP, "once more");
  expect(!b.jar.get(SESSION_COOKIE), "no session", [...b.jar.cookies.keys()]);
  const fresh = await send(expect, b, email("newbie"), "sign-in");
  const data = expectOK(expect, await b.client.signIn.emailOtp({ email: email("newbie"), otp: fresh }), "a new code");
  expect(data?.user?.id === newbieId, "signs in", data?.user);
});

// ------------------------------------------------------------ verify-email

const carol = browser("carol");
let carolId;

await check("verifyEmail {email, otp} of a signed-up user: {status:true, token, user} verified, a new session", async (expect) => {
  const up = expectOK(expect, await carol.client.signUp.email({ name: "Carol", email: email("carol"), password }), "sign-up");
  carolId = up?.user?.id;
  expect(up?.user?.emailVerified === false, "not verified yet", up?.user);
  const before = tokenOf(carol.jar.get(SESSION_COOKIE));
  const code = await send(expect, carol, email("carol"), "email-verification");
  const data = expectOK(expect, await carol.client.emailOtp.verifyEmail({ email: email("carol"), otp: code }));
  expectKeys(expect, data, ["status", "token", "user"], "answer");
  expectKeys(expect, data?.user, USER_KEYS, "user");
  expect(data?.status === true && data?.user?.id === carolId && data?.user?.emailVerified === true, "status true, carol verified", data);
  expect(isStr(data?.token) && data.token !== before && tokenOf(carol.jar.get(SESSION_COOKIE)) === data.token,
    "a new session, in the cookie", [before, data?.token]);
  const s = expectOK(expect, await carol.client.getSession(), "getSession");
  expect(s?.user?.emailVerified === true, "getSession: verified", s?.user);
  expectOK(expect, await browser("carol-2").client.signIn.email({ email: email("carol"), password }), "the password still signs in");
  expectError(expect, await carol.client.emailOtp.verifyEmail({ email: email("carol"), otp: code }), 400, CODES.INVALID_OTP, "the code again");
});

// ------------------------------------------------------------ password reset

await check("forgetPassword.emailOtp {email}: {success:true}, a forget-password code; resetPassword: {success:true}", async (expect) => {
  const other = browser("carol-elsewhere");
  expectOK(expect, await other.client.signIn.email({ email: email("carol"), password }), "carol signs in elsewhere");
  const f = expectOK(expect, await carol.client.forgetPassword.emailOtp({ email: email("carol") }), "forget-password");
  expectKeys(expect, f, ["success"], "answer");
  expect(f?.success === true, "success true", f);
  const code = await mailedCode(email("carol"), "forget-password");
  expect(/^[0-9]{6}$/.test(code || ""), "a forget-password code is mailed", code);
  expectError(expect, await carol.client.emailOtp.resetPassword({ email: email("carol"), otp: code, password: "short" }), 400, PASSWORD_TOO_SHORT, "too short");
  const r = expectOK(expect, await carol.client.emailOtp.resetPassword({ email: email("carol"), otp: code, password: "a-new-password-for-carol" }), "reset");
  expectKeys(expect, r, ["success"], "reset answer");
  expect(r?.success === true, "success true", r);
  const b = browser("carol-3");
  expectError(expect, await b.client.signIn.email({ email: email("carol"), password }), 401, INVALID_EMAIL_OR_PASSWORD, "the old password");
  expectOK(expect, await b.client.signIn.email({ email: email("carol"), password: "a-new-password-for-carol" }), "the new password");
  const s = await other.client.getSession();
  expect(s.error === null && s.data === null, "the sessions from before the reset ended", s.data);
  expectError(expect, await carol.client.emailOtp.resetPassword({ email: email("carol"), otp: code, password: "yet-another-password" }), 400, CODES.INVALID_OTP, "the code again");
});

await check("sendVerificationOtp {type: forget-password}: a code that resetPassword takes", async (expect) => {
  const code = await send(expect, carol, email("carol"), "forget-password");
  const c = expectOK(expect, await carol.client.emailOtp.checkVerificationOtp({ email: email("carol"), type: "forget-password", otp: code }), "check");
  expect(c?.success === true, "check: success true", c);
  const r = expectOK(expect, await carol.client.emailOtp.resetPassword({ email: email("carol"), otp: code, password: "reset-by-send-otp-1" }), "reset");
  expect(r?.success === true, "success true", r);
  expectOK(expect, await browser("carol-5").client.signIn.email({ email: email("carol"), password: "reset-by-send-otp-1" }), "the new password signs in");
});

await check("emailOtp.requestPasswordReset {email}: {success:true}, a forget-password code that resets", async (expect) => {
  const data = expectOK(expect, await carol.client.emailOtp.requestPasswordReset({ email: email("carol") }));
  expectKeys(expect, data, ["success"], "answer");
  const code = await mailedCode(email("carol"), "forget-password");
  expect(/^[0-9]{6}$/.test(code || ""), "a forget-password code is mailed", code);
  expectError(expect, await carol.client.emailOtp.resetPassword({ email: email("carol"), otp: wrong(code), password: "reset-once-more-1" }), 400, CODES.INVALID_OTP, "a wrong code");
  expectOK(expect, await carol.client.emailOtp.resetPassword({ email: email("carol"), otp: code, password: "reset-once-more-1" }), "reset");
  expectOK(expect, await browser("carol-4").client.signIn.email({ email: email("carol"), password: "reset-once-more-1" }), "the new password signs in");
});

// ------------------------------------------------------------ unknown emails, bad input

await check("unknown emails: forget-password and email-verification answer {success:true} and mail nothing", async (expect) => {
  const b = browser("prober");
  const f = expectOK(expect, await b.client.forgetPassword.emailOtp({ email: email("nobody") }), "forget-password");
  expect(f?.success === true, "success true", f);
  const r = expectOK(expect, await b.client.emailOtp.requestPasswordReset({ email: email("nobody") }), "request-password-reset");
  expect(r?.success === true, "success true", r);
  const v = expectOK(expect, await b.client.emailOtp.sendVerificationOtp({ email: email("nobody"), type: "email-verification" }), "email-verification");
  expect(v?.success === true, "success true", v);
  expect((await mailedCode(email("nobody"), "forget-password", 300)) === undefined, "no forget-password mail");
  expect((await mailedCode(email("nobody"), "email-verification", 300)) === undefined, "no email-verification mail");
});

await check("sendVerificationOtp refusals: change-email 400 \"Invalid OTP type\" (message only), bad type VALIDATION_ERROR, bad email INVALID_EMAIL", async (expect) => {
  const b = browser("refused");
  expectError(expect, await b.client.emailOtp.sendVerificationOtp({ email: email("newbie"), type: "change-email" }), 400, { message: "Invalid OTP type" }, "change-email");
  const r = await b.client.emailOtp.sendVerificationOtp({ email: email("newbie"), type: "nope" });
  expect(r.data === null && r.error?.status === 400 && r.error?.code === "VALIDATION_ERROR", "bad type: 400 VALIDATION_ERROR", r.error);
  expectError(expect, await b.client.emailOtp.sendVerificationOtp({ email: "not-an-email", type: "sign-in" }), 400, INVALID_EMAIL, "bad email");
  expect((await mailedCode(email("newbie"), "change-email", 300)) === undefined, "no change-email mail");
});

await check("change email by code (disabled by default): 400 \"Change email with OTP is disabled\" (message only)", async (expect) => {
  expectError(expect, await newbie.client.emailOtp.requestEmailChange({ newEmail: email("renamed") }), 400,
    { message: "Change email with OTP is disabled" }, "request-email-change");
  expectError(expect, await newbie.client.emailOtp.changeEmail({ newEmail: email("renamed"), otp: "123456" }), 400,
    { message: "Change email with OTP is disabled" }, "change-email");
});

summary();
