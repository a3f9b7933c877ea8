// Generates auth/testdata/betterauth-golden.json: a scripted transcript of real
// requests answered by Better Auth 1.7.x running in-process (memory adapter).
//
//   cd tests/compat && npm ci && node gen-golden.mjs
//
// Sections:
//   steps       main run, NODE_ENV=development (origin/CSRF checks active; Better
//               Auth skips them only when NODE_ENV=test), rate limiting off.
//   rateLimit   second instance, same process, rateLimit: {enabled: true}.
//   production  a child process with NODE_ENV=production (GET /error, IP
//               handling, default-on rate limiter).
//   notes       findings where Better Auth does something the spec does not say
//               (or says differently); checked again on every run.
//
// Each step: {name, description, replay, request:{method,path,headers,body},
// response:{status,statusText,headers,setCookie[],cookies[],bodyKind,body}}.
// `replay` says where credentials came from, so a Go test can re-run the script
// against its own server: {cookieFrom: step, dontRememberFrom: step, bearerFrom:
// step, bearer: "signed"|"raw"|"cookie-encoded", tokenFrom: step}. Response
// headers are exactly what auth.handler() returned (a Node HTTP adapter would
// add Date/Connection/Content-Length on the wire).
// Tokens, ids and dates are random/real-time: compare shapes, statuses, codes,
// header names and cookie attributes, not values.

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import {
  loadBetterAuth, versions, newDB, snapshotDB, send, cookieFrom, writeJSON, TESTDATA, SECRET, BASE_URL, BASE_PATH,
} from "./harness.mjs";

const MODE = process.env.GOLDEN_MODE || "main";
const { betterAuth, memoryAdapter, bearer } = await loadBetterAuth({
  nodeEnv: MODE === "production" ? "production" : "development",
});

const OUT = join(TESTDATA, "betterauth-golden.json");
const P = (p) => BASE_PATH + p;
const UA = "mana-auth-golden/1";
const ORIGIN = BASE_URL;
const EVIL = "https://evil.com";

function config(extra = {}) {
  return {
    secret: SECRET,
    baseURL: BASE_URL,
    trustedOrigins: [BASE_URL],
    advanced: { cookiePrefix: "better-auth" },
    emailAndPassword: { enabled: true },
    user: { deleteUser: { enabled: true } },
    plugins: [bearer()],
    logger: { disabled: true },
    ...extra,
  };
}

// A small recorder bound to one auth instance.
function recorder(auth, db) {
  const steps = [];
  const byName = new Map();
  const jar = {
    session: (name) => {
      const s = byName.get(name);
      const v = s && cookieFrom(s);
      if (!v) throw new Error(`step ${name} set no session cookie`);
      return v;
    },
    dontRemember: (name) => cookieFrom(byName.get(name), "better-auth.dont_remember"),
    token: (name) => byName.get(name).response.body.token,
    setAuthToken: (name) => byName.get(name).response.headers["set-auth-token"],
  };
  async function step(name, description, req, replay = undefined) {
    if (byName.has(name)) throw new Error(`duplicate step ${name}`);
    const headers = { "user-agent": UA, ...(req.headers || {}) };
    for (const [k, v] of Object.entries(headers)) if (v === undefined) delete headers[k];
    const r = await send(auth, { ...req, headers });
    const rec = { name, description, ...(replay ? { replay } : {}), request: r.request, response: r.response };
    // For responses that created a session, attach the row as stored right now.
    const tok = r.response.body && typeof r.response.body === "object" ? r.response.body.token : undefined;
    if (db && typeof tok === "string") {
      const row = db.session.find((x) => x.token === tok);
      if (row) rec.storedSession = snapshotDB({ s: [row] }).s[0];
    }
    steps.push(rec);
    byName.set(name, rec);
    return rec;
  }
  // Common request shapes.
  const post = (path, body, { cookie, origin = ORIGIN, headers = {} } = {}) => ({
    method: "POST",
    path: P(path),
    headers: {
      "content-type": "application/json",
      ...(origin ? { origin } : {}),
      ...(cookie ? { cookie } : {}),
      ...headers,
    },
    body,
  });
  const get = (path, { cookie, headers = {} } = {}) => ({
    method: "GET",
    path: P(path),
    headers: { ...(cookie ? { cookie } : {}), ...headers },
  });
  const sc = (name) => `better-auth.session_token=${jar.session(name)}`;
  return { steps, byName, step, jar, post, get, sc };
}

// ---------------------------------------------------------------------------
async function mainRun() {
  const db = newDB();
  const auth = betterAuth(config({ database: memoryAdapter(db) }));
  const R = recorder(auth, db);
  const { step, jar, post, get, sc } = R;
  const long129 = "x".repeat(129);

  // --- sign-up -------------------------------------------------------------
  await step("signup_ok", "sign-up with mixed-case email (stored lower-cased), rememberMe default",
    post("/sign-up/email", { name: "Alice", email: "Alice@Example.COM", password: "password123" }));
  await step("signup_duplicate_email", "sign-up with an email that already exists (different case)",
    post("/sign-up/email", { name: "Alice Again", email: "alice@example.com", password: "password123" }));
  await step("signup_password_too_short", "7-char password (min is 8)",
    post("/sign-up/email", { name: "Shorty", email: "shorty@example.com", password: "short12" }));
  await step("signup_password_too_long", "129-char password (max is 128)",
    post("/sign-up/email", { name: "Longy", email: "longy@example.com", password: long129 }));
  await step("signup_invalid_email", "email fails the schema",
    post("/sign-up/email", { name: "Bad", email: "not-an-email", password: "password123" }));
  await step("signup_missing_name", "no name key",
    post("/sign-up/email", { email: "noname@example.com", password: "password123" }));
  await step("signup_malformed_json", "truncated JSON body with application/json",
    post("/sign-up/email", '{"name":"X","email":'));
  await step("signup_text_plain", "JSON body sent as text/plain",
    post("/sign-up/email", JSON.stringify({ name: "Txt", email: "txt@example.com", password: "password123" }),
      { headers: { "content-type": "text/plain" } }));
  {
    const r = post("/sign-up/email",
      new TextEncoder().encode(JSON.stringify({ name: "NoCT", email: "noct@example.com", password: "password123" })));
    delete r.headers["content-type"];
    await step("signup_no_content_type", "body bytes with no Content-Type header", r);
  }
  await step("signup_form_urlencoded", "application/x-www-form-urlencoded is accepted for sign-up",
    post("/sign-up/email", "name=Dave&email=dave%40example.com&password=password123",
      { headers: { "content-type": "application/x-www-form-urlencoded" } }));
  {
    const r = post("/sign-up/email", undefined);
    await step("signup_no_body", "POST with application/json but no body at all", r);
  }
  await step("signup_json_charset", "content-type with charset parameter",
    post("/sign-up/email", { name: "Charset", email: "charset@example.com", password: "password123" },
      { headers: { "content-type": "application/json; charset=utf-8" } }));
  await step("signup_extra_field", "unknown body key (treated as additional user field)",
    post("/sign-up/email", { name: "Extra", email: "extra@example.com", password: "password123", favouriteColour: "red" }));
  await step("signup_email_verified_true", "input tries to set emailVerified:true",
    post("/sign-up/email", { name: "Sneaky", email: "sneaky@example.com", password: "password123", emailVerified: true }));

  // --- sign-in -------------------------------------------------------------
  await step("signin_ok", "sign-in, rememberMe default (true)",
    post("/sign-in/email", { email: "alice@example.com", password: "password123" }));
  await step("signin_remember_me_false", "sign-in with rememberMe:false: no Max-Age, dont_remember cookie",
    post("/sign-in/email", { email: "alice@example.com", password: "password123", rememberMe: false }));
  await step("signin_wrong_password", "",
    post("/sign-in/email", { email: "alice@example.com", password: "wrong-password" }));
  await step("signin_unknown_email", "",
    post("/sign-in/email", { email: "nobody@example.com", password: "password123" }));
  await step("signin_invalid_email_format", "",
    post("/sign-in/email", { email: "not-an-email", password: "password123" }));
  await step("signin_uppercase_email", "email looked up lower-cased",
    post("/sign-in/email", { email: "ALICE@EXAMPLE.COM", password: "password123" }));
  await step("signin_callback_url", "relative callbackURL: 200 JSON + Location header",
    post("/sign-in/email", { email: "alice@example.com", password: "password123", callbackURL: "/dashboard" }));
  await step("signin_untrusted_callback_url", "callbackURL on an untrusted origin",
    post("/sign-in/email", { email: "alice@example.com", password: "password123", callbackURL: EVIL }));
  await step("signin_password_too_long", "129-char password on sign-in",
    post("/sign-in/email", { email: "alice@example.com", password: long129 }));
  await step("signin_password_short_wrong", "short (<8) wrong password on sign-in (min is not checked on sign-in)",
    post("/sign-in/email", { email: "alice@example.com", password: "abc" }));
  await step("signin_xff_single", "X-Forwarded-For with one IP (stored as session.ipAddress)",
    post("/sign-in/email", { email: "alice@example.com", password: "password123" },
      { headers: { "x-forwarded-for": "203.0.113.7" } }));
  await step("signin_xff_list", "X-Forwarded-For with a list (ignored without trustedProxies)",
    post("/sign-in/email", { email: "alice@example.com", password: "password123" },
      { headers: { "x-forwarded-for": "203.0.113.7, 10.0.0.1" } }));
  await step("signin_form_urlencoded", "form-encoded sign-in with rememberMe=false as a string",
    post("/sign-in/email", "email=alice%40example.com&password=password123",
      { headers: { "content-type": "application/x-www-form-urlencoded" } }));

  // --- get-session ---------------------------------------------------------
  await step("get_session_cookie", "", get("/get-session", { cookie: sc("signin_ok") }), { cookieFrom: "signin_ok" });
  await step("get_session_no_cookie", "", get("/get-session"));
  {
    const v = jar.session("signin_ok");
    const i = v.indexOf(".") + 3;
    const tampered = v.slice(0, i) + (v[i] === "A" ? "B" : "A") + v.slice(i + 1);
    await step("get_session_tampered_cookie", "one signature character changed",
      get("/get-session", { cookie: `better-auth.session_token=${tampered}` }), { cookieFrom: "signin_ok", tamper: "signature" });
  }
  await step("get_session_unsigned_cookie", "cookie carries the raw token without signature",
    get("/get-session", { cookie: `better-auth.session_token=${jar.token("signin_ok")}` }), { tokenFrom: "signin_ok" });
  await step("get_session_with_stray_session_data", "valid session cookie plus a junk session_data cookie (cookie cache off)",
    get("/get-session", { cookie: `${sc("signin_ok")}; better-auth.session_data=junk` }), { cookieFrom: "signin_ok" });
  await step("get_session_post", "POST /get-session without deferSessionRefresh",
    post("/get-session", {}, { cookie: sc("signin_ok") }), { cookieFrom: "signin_ok" });
  await step("get_session_trailing_slash", "", get("/get-session/", { cookie: sc("signin_ok") }), { cookieFrom: "signin_ok" });
  await step("get_session_head", "", { ...get("/get-session", { cookie: sc("signin_ok") }), method: "HEAD" }, { cookieFrom: "signin_ok" });
  await step("get_session_options", "CORS-preflight-like OPTIONS",
    { method: "OPTIONS", path: P("/get-session"), headers: { origin: ORIGIN, "access-control-request-method": "GET" } });
  await step("get_session_delete_method", "wrong method", { method: "DELETE", path: P("/get-session"), headers: { origin: ORIGIN } });
  await step("get_session_dont_remember", "session + dont_remember cookies",
    get("/get-session", {
      cookie: `${sc("signin_remember_me_false")}; better-auth.dont_remember=${jar.dontRemember("signin_remember_me_false")}`,
    }), { cookieFrom: "signin_remember_me_false", dontRememberFrom: "signin_remember_me_false" });
  await step("get_session_query_flags", "?disableCookieCache=true&disableRefresh=false",
    get("/get-session?disableCookieCache=true&disableRefresh=false", { cookie: sc("signin_ok") }), { cookieFrom: "signin_ok" });
  await step("unknown_path", "", get("/does-not-exist"));
  await step("unknown_path_post", "", post("/does-not-exist", {}));
  await step("outside_base_path", "path outside /api/auth", { method: "GET", path: "/not-auth/ok", headers: {} });
  await step("double_slash", "'//' inside the path", { method: "GET", path: "/api/auth//ok", headers: {} });

  // --- sessions ------------------------------------------------------------
  await step("list_sessions", "", get("/list-sessions", { cookie: sc("signin_ok") }), { cookieFrom: "signin_ok" });
  await step("revoke_session", "revoke another of the user's own sessions by token",
    post("/revoke-session", { token: jar.token("signin_remember_me_false") }, { cookie: sc("signin_ok") }),
    { cookieFrom: "signin_ok", tokenFrom: "signin_remember_me_false" });
  await step("revoke_session_foreign_token", "token belonging to another user (dave): nothing deleted",
    post("/revoke-session", { token: jar.token("signup_form_urlencoded") }, { cookie: sc("signin_ok") }),
    { cookieFrom: "signin_ok", tokenFrom: "signup_form_urlencoded" });
  await step("get_session_foreign_still_valid", "dave's session survived revoke_session_foreign_token",
    get("/get-session", { cookie: sc("signup_form_urlencoded") }), { cookieFrom: "signup_form_urlencoded" });
  await step("revoke_session_missing_token", "body without token",
    post("/revoke-session", {}, { cookie: sc("signin_ok") }), { cookieFrom: "signin_ok" });
  await step("list_sessions_after_revoke", "", get("/list-sessions", { cookie: sc("signin_ok") }), { cookieFrom: "signin_ok" });
  await step("revoke_other_sessions", "", post("/revoke-other-sessions", undefined, { cookie: sc("signin_ok") }), { cookieFrom: "signin_ok" });
  await step("list_sessions_after_revoke_other", "", get("/list-sessions", { cookie: sc("signin_ok") }), { cookieFrom: "signin_ok" });
  await step("signin_for_revoke_all_1", "", post("/sign-in/email", { email: "alice@example.com", password: "password123" }));
  await step("signin_for_revoke_all_2", "", post("/sign-in/email", { email: "alice@example.com", password: "password123" }));
  await step("revoke_sessions", "revoke all sessions incl. the current one",
    post("/revoke-sessions", undefined, { cookie: sc("signin_for_revoke_all_1") }), { cookieFrom: "signin_for_revoke_all_1" });
  await step("get_session_after_revoke_sessions", "another session of the same user is gone too",
    get("/get-session", { cookie: sc("signin_for_revoke_all_2") }), { cookieFrom: "signin_for_revoke_all_2" });
  await step("revoke_sessions_no_session", "", post("/revoke-sessions", undefined));

  // --- update-user ---------------------------------------------------------
  await step("signin_for_update", "", post("/sign-in/email", { email: "alice@example.com", password: "password123" }));
  await step("update_user_name", "", post("/update-user", { name: "Alice Liddell" }, { cookie: sc("signin_for_update") }), { cookieFrom: "signin_for_update" });
  await step("update_user_email", "email may not be changed here",
    post("/update-user", { email: "new@example.com" }, { cookie: sc("signin_for_update") }), { cookieFrom: "signin_for_update" });
  await step("update_user_empty", "", post("/update-user", {}, { cookie: sc("signin_for_update") }), { cookieFrom: "signin_for_update" });
  await step("update_user_array_body", "JSON array instead of an object",
    post("/update-user", "[]", { cookie: sc("signin_for_update") }), { cookieFrom: "signin_for_update" });
  await step("update_user_null_body", "JSON null body",
    post("/update-user", "null", { cookie: sc("signin_for_update") }), { cookieFrom: "signin_for_update" });
  await step("update_user_string_body", "JSON string body",
    post("/update-user", '"name"', { cookie: sc("signin_for_update") }), { cookieFrom: "signin_for_update" });
  await step("update_user_referer_only", "no Origin, trusted Referer with a path",
    post("/update-user", { name: "Alice R" }, { cookie: sc("signin_for_update"), origin: null, headers: { referer: `${BASE_URL}/settings/profile` } }),
    { cookieFrom: "signin_for_update" });
  await step("update_user_no_session", "", post("/update-user", { name: "Nobody" }));
  await step("get_session_after_update", "", get("/get-session", { cookie: sc("signin_for_update") }), { cookieFrom: "signin_for_update" });

  // --- change-password -----------------------------------------------------
  await step("change_password_wrong_current", "",
    post("/change-password", { currentPassword: "wrong-password", newPassword: "new-password-456" }, { cookie: sc("signin_for_update") }),
    { cookieFrom: "signin_for_update" });
  await step("change_password_new_too_short", "",
    post("/change-password", { currentPassword: "password123", newPassword: "short" }, { cookie: sc("signin_for_update") }),
    { cookieFrom: "signin_for_update" });
  await step("change_password_ok_revoke", "revokeOtherSessions:true: new session + cookie",
    post("/change-password", { currentPassword: "password123", newPassword: "new-password-456", revokeOtherSessions: true }, { cookie: sc("signin_for_update") }),
    { cookieFrom: "signin_for_update" });
  await step("get_session_old_cookie_after_change_password", "the session used for change-password",
    get("/get-session", { cookie: sc("signin_for_update") }), { cookieFrom: "signin_for_update" });
  await step("signin_old_password", "", post("/sign-in/email", { email: "alice@example.com", password: "password123" }));
  await step("change_password_ok_keep", "revokeOtherSessions absent: token null",
    post("/change-password", { currentPassword: "new-password-456", newPassword: "new-password-789" }, { cookie: sc("change_password_ok_revoke") }),
    { cookieFrom: "change_password_ok_revoke" });

  // --- origin / CSRF -------------------------------------------------------
  await step("sign_out_invalid_origin", "cookie request from an untrusted Origin",
    post("/sign-out", undefined, { cookie: sc("change_password_ok_revoke"), origin: EVIL }), { cookieFrom: "change_password_ok_revoke" });
  await step("sign_out_missing_origin", "cookie request with neither Origin nor Referer",
    post("/sign-out", undefined, { cookie: sc("change_password_ok_revoke"), origin: null }), { cookieFrom: "change_password_ok_revoke" });
  await step("sign_out_null_origin", "Origin: null",
    post("/sign-out", undefined, { cookie: sc("change_password_ok_revoke"), origin: "null" }), { cookieFrom: "change_password_ok_revoke" });
  await step("sign_out_untrusted_referer", "no Origin, untrusted Referer",
    post("/sign-out", undefined, { cookie: sc("change_password_ok_revoke"), origin: null, headers: { referer: `${EVIL}/page` } }),
    { cookieFrom: "change_password_ok_revoke" });
  await step("sign_out", "", post("/sign-out", undefined, { cookie: sc("change_password_ok_revoke") }), { cookieFrom: "change_password_ok_revoke" });
  await step("get_session_after_sign_out", "", get("/get-session", { cookie: sc("change_password_ok_revoke") }), { cookieFrom: "change_password_ok_revoke" });
  await step("sign_out_no_cookie", "", post("/sign-out", undefined));
  await step("sign_out_with_body", "sign-out with a JSON body {}", post("/sign-out", {}));
  await step("signin_cross_site_navigate", "no cookie, Sec-Fetch-Site: cross-site + Sec-Fetch-Mode: navigate",
    post("/sign-in/email", { email: "alice@example.com", password: "new-password-789" },
      { origin: null, headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" } }));
  await step("signin_sec_fetch_no_origin", "no cookie, Sec-Fetch-Site: same-origin + Mode cors, no Origin/Referer",
    post("/sign-in/email", { email: "alice@example.com", password: "new-password-789" },
      { origin: null, headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" } }));
  await step("signin_cookieless_evil_origin", "no cookie, Origin https://evil.com",
    post("/sign-in/email", { email: "alice@example.com", password: "new-password-789" }, { origin: EVIL }));
  await step("signin_no_origin_no_fetch_metadata", "no cookie, no Origin/Referer/Sec-Fetch-*: allowed",
    post("/sign-in/email", { email: "alice@example.com", password: "new-password-789" }, { origin: null }));
  await step("signin_with_cookie_evil_origin", "sign-in carrying a (stale) cookie and an untrusted Origin",
    post("/sign-in/email", { email: "alice@example.com", password: "new-password-789" },
      { origin: EVIL, cookie: sc("change_password_ok_revoke") }), { cookieFrom: "change_password_ok_revoke" });
  await step("signup_cookieless_evil_origin", "sign-up, no cookie, Origin https://evil.com",
    post("/sign-up/email", { name: "Eve", email: "eve@example.com", password: "password123" }, { origin: EVIL }));

  // --- delete-user ---------------------------------------------------------
  await step("signup_bob", "", post("/sign-up/email", { name: "Bob", email: "bob@example.com", password: "bob-password-1" }));
  await step("delete_user_wrong_password", "", post("/delete-user", { password: "not-bobs" }, { cookie: sc("signup_bob") }), { cookieFrom: "signup_bob" });
  await step("delete_user_with_password", "", post("/delete-user", { password: "bob-password-1" }, { cookie: sc("signup_bob") }), { cookieFrom: "signup_bob" });
  await step("get_session_after_delete_user", "", get("/get-session", { cookie: sc("signup_bob") }), { cookieFrom: "signup_bob" });
  await step("signin_deleted_user", "", post("/sign-in/email", { email: "bob@example.com", password: "bob-password-1" }));
  await step("delete_user_no_session", "", post("/delete-user", { password: "whatever1" }));
  const dbAfterDelete = snapshotDB(db);

  // --- misc ----------------------------------------------------------------
  await step("ok", "", get("/ok"));
  await step("error_page", "", get("/error?error=foo"));
  await step("error_page_no_param", "", get("/error"));
  await step("error_page_description", "", get("/error?error=bad_thing&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"));

  // --- bearer --------------------------------------------------------------
  await step("signup_carol", "", post("/sign-up/email", { name: "Carol", email: "carol@example.com", password: "carol-password-1" }));
  const signed = jar.setAuthToken("signup_carol");
  await step("get_session_bearer_signed", "Authorization: Bearer <set-auth-token>",
    get("/get-session", { headers: { authorization: `Bearer ${signed}` } }), { bearerFrom: "signup_carol", bearer: "signed" });
  await step("get_session_bearer_raw", "Authorization: Bearer <raw token from JSON body>",
    get("/get-session", { headers: { authorization: `Bearer ${jar.token("signup_carol")}` } }), { bearerFrom: "signup_carol", bearer: "raw" });
  await step("get_session_bearer_cookie_encoded", "Authorization: Bearer <percent-encoded cookie value>",
    get("/get-session", { headers: { authorization: `Bearer ${jar.session("signup_carol")}` } }), { bearerFrom: "signup_carol", bearer: "cookie-encoded" });
  await step("get_session_bearer_lowercase_scheme", "authorization: bearer <signed>",
    get("/get-session", { headers: { authorization: `bearer ${signed}` } }), { bearerFrom: "signup_carol", bearer: "signed" });
  await step("get_session_bearer_invalid", "bad signature: ignored, no session",
    get("/get-session", { headers: { authorization: `Bearer ${jar.token("signup_carol")}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=` } }),
    { bearerFrom: "signup_carol", bearer: "tampered" });
  await step("get_session_bearer_unknown_raw", "raw token that matches no session",
    get("/get-session", { headers: { authorization: "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } }));
  await step("update_user_bearer_no_origin", "bearer-only POST without Origin (not origin-checked)",
    post("/update-user", { name: "Carol B" }, { origin: null, headers: { authorization: `Bearer ${signed}` } }),
    { bearerFrom: "signup_carol", bearer: "signed" });
  await step("update_user_bearer_evil_origin", "bearer-only POST with an untrusted Origin",
    post("/update-user", { name: "Carol E" }, { origin: EVIL, headers: { authorization: `Bearer ${signed}` } }),
    { bearerFrom: "signup_carol", bearer: "signed" });
  await step("list_sessions_bearer", "", get("/list-sessions", { headers: { authorization: `Bearer ${signed}` } }), { bearerFrom: "signup_carol", bearer: "signed" });
  await step("sign_out_bearer", "sign-out with bearer only", post("/sign-out", undefined, { origin: null, headers: { authorization: `Bearer ${signed}` } }),
    { bearerFrom: "signup_carol", bearer: "signed" });
  await step("get_session_bearer_after_sign_out", "", get("/get-session", { headers: { authorization: `Bearer ${signed}` } }),
    { bearerFrom: "signup_carol", bearer: "signed" });

  return { steps: R.steps, byName: R.byName, db: snapshotDB(db), dbAfterDelete };
}

// ---------------------------------------------------------------------------
async function rateLimitRun() {
  const db = newDB();
  const auth = betterAuth(config({ database: memoryAdapter(db), rateLimit: { enabled: true } }));
  const R = recorder(auth, db);
  const { step, post } = R;
  await step("rl_signup", "", post("/sign-up/email", { name: "Rita", email: "rita@example.com", password: "password123" }));
  for (let i = 1; i <= 4; i++) {
    await step(`rl_signin_${i}`, i < 4 ? "within the 3-per-10s budget" : "4th sign-in within 10 s",
      post("/sign-in/email", { email: "rita@example.com", password: "password123" }));
  }
  await step("rl_signin_other_ip", "same path, different client IP (X-Forwarded-For): separate bucket",
    post("/sign-in/email", { email: "rita@example.com", password: "password123" }, { headers: { "x-forwarded-for": "198.51.100.9" } }));
  await step("rl_get_session", "other paths are unaffected", R.get("/get-session"));
  return R.steps;
}

// ---------------------------------------------------------------------------
// The same Better Auth served over HTTP with its Node adapter (toNodeHandler):
// the adapter drops a request body that has no Content-Type, so the answer
// differs from the in-process (fetch-handler) one recorded in steps[].
async function nodeAdapterRun() {
  const { createServer, request } = await import("node:http");
  const { toNodeHandler } = await import("better-auth/node");
  const db = newDB();
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const auth = betterAuth(config({ database: memoryAdapter(db), baseURL: base, trustedOrigins: [base] }));
  server.on("request", toNodeHandler(auth));
  const raw = (name, description, method, path, headers, body) =>
    new Promise((resolve, reject) => {
      const h = { ...headers, "content-length": String(Buffer.byteLength(body)) };
      const r = request(base + path, { method, headers: h }, (m) => {
        const chunks = [];
        m.on("data", (c) => chunks.push(c));
        m.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const hs = { ...m.headers };
          delete hs["set-cookie"];
          let parsed = text;
          try { parsed = JSON.parse(text); } catch {}
          resolve({
            name, description,
            request: { method, path, headers: h, body },
            response: { status: m.statusCode, headers: hs, setCookie: m.headers["set-cookie"] || [], bodyKind: text === "" ? "empty" : typeof parsed === "string" ? "text" : "json", body: parsed },
          });
        });
      });
      r.on("error", reject);
      r.end(body);
    });
  const steps = [];
  steps.push(await raw("node_signup_no_content_type", "sign-up body with no Content-Type over the Node adapter", "POST", P("/sign-up/email"),
    { origin: base, "user-agent": UA }, JSON.stringify({ name: "NoCT", email: "noct@example.com", password: "password123" })));
  steps.push(await raw("node_sign_out_no_content_type", "sign-out with a body and no Content-Type over the Node adapter", "POST", P("/sign-out"),
    { origin: base, "user-agent": UA }, "{}"));
  await new Promise((r) => server.close(r));
  return steps;
}

// ---------------------------------------------------------------------------
async function productionRun() {
  const db = newDB();
  const auth = betterAuth(config({ database: memoryAdapter(db) }));
  const R = recorder(auth, db);
  const { step, post, get } = R;
  await step("prod_error_page", "GET /error in production", get("/error?error=foo"));
  await step("prod_signup_no_ip", "sign-up without X-Forwarded-For (no IP known)",
    post("/sign-up/email", { name: "Pat", email: "pat@example.com", password: "password123" }));
  await step("prod_get_session", "", get("/get-session", { cookie: R.sc("prod_signup_no_ip") }), { cookieFrom: "prod_signup_no_ip" });
  for (let i = 1; i <= 4; i++) {
    await step(`prod_signin_${i}`, "rate limiter is on by default in production; no IP -> shared bucket",
      post("/sign-in/email", { email: "pat@example.com", password: "password123" }));
  }
  return { steps: R.steps, db: snapshotDB(db) };
}

// ---------------------------------------------------------------------------
function check(cond, msg) {
  if (!cond) {
    console.warn(`NOTE CHECK FAILED: ${msg}`);
    process.exitCode = 1;
  }
  return cond;
}

function buildNotes(main, rl, prod, nodeAdapter) {
  const s = (n) => main.byName.get(n).response;
  const row = (n) => main.byName.get(n).storedSession;
  const names = (r) => r.setCookie.map((l) => l.split("=")[0]);
  const EXPIRE3 = ["better-auth.session_token", "better-auth.session_data", "better-auth.dont_remember"];
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const notes = [];
  // kind: "differs-from-spec" | "not-in-spec" (spec silent or vaguer) | "fixture" (artifact of the memory adapter / harness)
  const add = (kind, steps, text, ok) => {
    check(ok, text);
    notes.push({ kind, steps, text, verified: !!ok });
  };

  // --- differs from the spec ------------------------------------------------
  const ua = s("update_user_array_body"), un = s("update_user_null_body"), us = s("update_user_string_body");
  add("differs-from-spec", ["update_user_array_body", "update_user_null_body", "update_user_string_body"],
    "Spec §1.3 lists BODY_MUST_BE_AN_OBJECT (400) for update-user, but a JSON array/null/string body never reaches it: schema validation answers first with " +
    `400 VALIDATION_ERROR, message "${ua.body?.message}" (null: "${un.body?.message}", string: "${us.body?.message}").`,
    ua.status === 400 && ua.body?.code === "VALIDATION_ERROR" && un.body?.code === "VALIDATION_ERROR" && us.body?.code === "VALIDATION_ERROR");
  const pe = prod.steps.find((x) => x.name === "prod_error_page").response;
  add("differs-from-spec", ["production.prod_error_page"],
    `Spec §1.2 says redirects are 302 with Location and still carry Content-Type: application/json. GET /error?error=foo in production is 302 Location "${pe.headers.location}" ` +
    `(relative, not baseURL-resolved) with NO Content-Type and no other header (headers: ${JSON.stringify(pe.headers)}), empty body.`,
    pe.status === 302 && !("content-type" in pe.headers));
  const nb = s("signup_no_body");
  add("differs-from-spec", ["signup_no_body"],
    `Spec §1.1 says "a POST with no body at all is fine". For sign-up (required fields) it is a schema failure: ${nb.status} ${JSON.stringify(nb.body)} ` +
    "(two issues, both at [body], joined with \"; \"). Body-less POSTs are only fine where the body is optional (sign-out, revoke-sessions, revoke-other-sessions all answered 200).",
    nb.status === 400 && nb.body?.code === "VALIDATION_ERROR" && s("revoke_other_sessions").status === 200);

  const na = nodeAdapter.find((x) => x.name === "node_signup_no_content_type").response;
  const nso = nodeAdapter.find((x) => x.name === "node_sign_out_no_content_type").response;
  add("differs-from-spec", ["signup_no_content_type", "nodeAdapter.node_signup_no_content_type", "nodeAdapter.node_sign_out_no_content_type"],
    "A body without Content-Type gets 415 only from fetch-style handlers (in-process auth.handler, as in steps[]). Served through Better Auth's Node adapter (toNodeHandler, i.e. Express/node:http deployments) " +
    `the body is silently dropped: sign-up -> ${na.status} ${JSON.stringify(na.body)}; sign-out -> ${nso.status}. Both behaviours are "Better Auth"; the spec only describes the 415.`,
    s("signup_no_content_type").status === 415 && na.status === 400 && na.body?.code === "VALIDATION_ERROR" && nso.status === 200);

  // --- spec silent / less precise -------------------------------------------
  const tp = s("signup_text_plain"), nc = s("signup_no_content_type");
  add("not-in-spec", ["signup_text_plain", "signup_no_content_type"],
    "415 messages on sign-up/sign-in list BOTH types, urlencoded first: " + JSON.stringify(tp.body?.message) + " / " + JSON.stringify(nc.body?.message) +
    " (spec §1.1 only shows the generic \"Allowed types: application/json\").",
    tp.status === 415 && nc.status === 415 && /x-www-form-urlencoded, application\/json/.test(tp.body?.message || ""));
  const mn = s("signup_missing_name");
  add("not-in-spec", ["signup_missing_name", "revoke_session_missing_token", "signup_invalid_email"],
    `Zod 4 issue texts: missing string -> "${mn.body?.message}"; missing token -> "${s("revoke_session_missing_token").body?.message}"; bad email -> "${s("signup_invalid_email").body?.message}".`,
    mn.body?.code === "VALIDATION_ERROR");
  const up = s("unknown_path");
  add("not-in-spec", ["unknown_path", "unknown_path_post", "get_session_trailing_slash", "get_session_head", "get_session_options", "get_session_delete_method", "outside_base_path", "double_slash"],
    `All 404s (unknown path, trailing slash, HEAD, OPTIONS, wrong method, outside base path, '//') have an empty body, statusText "${up.statusText}" and NO headers at all (not even Content-Type).`,
    ["unknown_path", "unknown_path_post", "get_session_trailing_slash", "get_session_head", "get_session_options", "get_session_delete_method", "outside_base_path", "double_slash"]
      .every((n) => s(n).status === 404 && s(n).bodyKind === "empty" && Object.keys(s(n).headers).length === 0));
  const gp = s("get_session_post");
  add("not-in-spec", ["get_session_post"],
    `POST /get-session -> 405 ${gp.body?.code} and it still carries Cache-Control: no-store / Pragma: no-cache.`,
    gp.status === 405 && gp.headers["cache-control"] === "no-store");
  const bu = s("get_session_bearer_unknown_raw"), bi = s("get_session_bearer_invalid");
  add("not-in-spec", ["get_session_bearer_unknown_raw", "get_session_bearer_invalid", "get_session_tampered_cookie", "get_session_unsigned_cookie"],
    "A bearer token whose signature is fine but whose session does not exist (raw unknown token, which the server signs itself) makes get-session answer null AND emit the three " +
    "expiring Set-Cookie lines (session_token, session_data, dont_remember; Max-Age=0) although the request had no Cookie header. A bearer with a bad signature, a tampered cookie, or an unsigned cookie " +
    "answer null with no Set-Cookie.",
    same(names(bu), EXPIRE3) && bi.setCookie.length === 0 && s("get_session_tampered_cookie").setCookie.length === 0 && s("get_session_unsigned_cookie").setCookie.length === 0);
  const son = s("sign_out_no_cookie");
  add("not-in-spec", ["sign_out_no_cookie", "sign_out_with_body", "sign_out"],
    `sign-out without any cookie/session -> ${son.status} ${JSON.stringify(son.body)} and still the three expiring Set-Cookie lines; sign-out always expires session_token, session_data, dont_remember in that order.`,
    son.status === 200 && same(names(son), EXPIRE3) && same(names(s("sign_out")), EXPIRE3));
  add("not-in-spec", ["get_session_after_revoke_sessions", "get_session_old_cookie_after_change_password", "get_session_after_sign_out", "get_session_after_delete_user"],
    "get-session with a correctly signed cookie whose session row is gone -> 200 null + the three expiring cookies (session_data expired even though cookie cache is off).",
    ["get_session_after_revoke_sessions", "get_session_old_cookie_after_change_password", "get_session_after_sign_out", "get_session_after_delete_user"].every((n) => s(n).body === null && same(names(s(n)), EXPIRE3)));
  const cpr = s("change_password_ok_revoke");
  add("not-in-spec", ["change_password_ok_revoke", "get_session_old_cookie_after_change_password"],
    "change-password with revokeOtherSessions:true deletes ALL sessions including the one making the request and creates a new one (new token in body, new session_token cookie + set-auth-token); the old cookie is dead afterwards.",
    cpr.status === 200 && typeof cpr.body?.token === "string" && same(names(cpr), ["better-auth.session_token"]) && s("get_session_old_cookie_after_change_password").body === null);
  const cpk = s("change_password_ok_keep");
  add("not-in-spec", ["change_password_ok_keep"],
    `change-password without revokeOtherSessions -> 200 {token:null,user} and no Set-Cookie / set-auth-token.`,
    cpk.status === 200 && cpk.body?.token === null && cpk.setCookie.length === 0 && !("set-auth-token" in cpk.headers));
  const uun = s("update_user_name");
  add("not-in-spec", ["update_user_name", "update_user_referer_only", "update_user_bearer_no_origin"],
    "update-user success re-issues only session_token (Max-Age=604800, same token) plus set-auth-token; the response body is {status:true} (no user).",
    uun.status === 200 && same(uun.body, { status: true }) && same(names(uun), ["better-auth.session_token"]) && "set-auth-token" in uun.headers);
  const cb = s("signin_callback_url");
  add("not-in-spec", ["signin_callback_url"],
    `sign-in with callbackURL "/dashboard": 200, Location header is the callbackURL verbatim ("${cb.headers.location}", not resolved against baseURL), body {redirect:true, token, url:"${cb.body?.url}", user}. Key order redirect,token,url,user.`,
    cb.status === 200 && cb.headers.location === "/dashboard" && cb.body?.redirect === true && cb.body?.url === "/dashboard");
  const sp = s("signin_password_short_wrong"), sl = s("signin_password_too_long");
  add("not-in-spec", ["signin_password_short_wrong", "signin_password_too_long"],
    `Sign-in checks only the maximum length: 3-char password -> ${sp.status} ${sp.body?.code}; 129 chars -> ${sl.status} ${sl.body?.code}.`,
    sp.status === 401 && sl.status === 400 && sl.body?.code === "PASSWORD_TOO_LONG");
  const ev = s("signup_email_verified_true"), ex = s("signup_extra_field");
  add("not-in-spec", ["signup_email_verified_true", "signup_extra_field"],
    "sign-up input emailVerified:true is silently reset to false; an unknown key (favouriteColour) with no matching additional field is silently dropped (not stored, not echoed), 200.",
    ev.status === 200 && ev.body?.user?.emailVerified === false && ex.status === 200 && !("favouriteColour" in (ex.body?.user || {})));
  add("not-in-spec", ["signin_form_urlencoded", "signup_form_urlencoded", "signup_json_charset"],
    "application/x-www-form-urlencoded sign-up/sign-in and 'application/json; charset=utf-8' are accepted (200).",
    [s("signin_form_urlencoded"), s("signup_form_urlencoded"), s("signup_json_charset")].every((r) => r.status === 200));
  const seo = s("signin_cookieless_evil_origin"), sno = s("signin_sec_fetch_no_origin"), sue = s("signup_cookieless_evil_origin");
  add("not-in-spec", ["signin_cookieless_evil_origin", "signup_cookieless_evil_origin", "signin_sec_fetch_no_origin", "signin_no_origin_no_fetch_metadata", "signin_cross_site_navigate"],
    `Login CSRF guard: cookie-less sign-in/sign-up with untrusted Origin -> 403 ${seo.body?.code}/${sue.body?.code}; Sec-Fetch-Site same-origin without Origin/Referer -> 403 ${sno.body?.code}; ` +
    `no Origin/Referer/Sec-Fetch at all -> ${s("signin_no_origin_no_fetch_metadata").status}; cross-site+navigate -> 403 ${s("signin_cross_site_navigate").body?.code}.`,
    seo.status === 403 && sue.status === 403 && sno.body?.code === "MISSING_OR_NULL_ORIGIN" && s("signin_no_origin_no_fetch_metadata").status === 200);
  const ube = s("update_user_bearer_evil_origin"), ubo = s("update_user_bearer_no_origin");
  add("not-in-spec", ["update_user_bearer_evil_origin", "update_user_bearer_no_origin", "sign_out_bearer"],
    "Bearer-only (no Cookie header) POSTs skip the origin check even with Origin: https://evil.com (200), and their responses still carry Set-Cookie session_token + set-auth-token.",
    ube.status === 200 && ubo.status === 200 && same(names(ube), ["better-auth.session_token"]));
  const ur = s("update_user_referer_only"), sur = s("sign_out_untrusted_referer"), snu = s("sign_out_null_origin");
  add("not-in-spec", ["update_user_referer_only", "sign_out_untrusted_referer", "sign_out_null_origin"],
    `Referer with a path on the trusted origin is accepted (${ur.status}); untrusted Referer -> ${sur.status} ${sur.body?.code}; "Origin: null" -> ${snu.status} ${snu.body?.code}.`,
    ur.status === 200 && sur.body?.code === "INVALID_ORIGIN" && snu.body?.code === "MISSING_OR_NULL_ORIGIN");
  const ep = s("error_page"), epd = s("error_page_description");
  add("not-in-spec", ["error_page", "error_page_no_param", "error_page_description"],
    `GET /error in development -> 200 Content-Type "${ep.headers["content-type"]}" (no charset), a ~${String(ep.body).length}-char HTML page with the error code and HTML-escaped error_description.`,
    ep.status === 200 && ep.headers["content-type"] === "text/html" && String(epd.body).includes("&lt;script&gt;"));
  const ls = s("list_sessions");
  add("not-in-spec", ["list_sessions", "revoke_session", "revoke_other_sessions", "revoke_sessions"],
    "list-sessions has no Cache-Control/Pragma headers (only get-session sends them). revoke-session / revoke-other-sessions answer {status:true} with no Set-Cookie; revoke-sessions expires the three cookies.",
    !("cache-control" in ls.headers) && s("revoke_session").setCookie.length === 0 && same(names(s("revoke_sessions")), EXPIRE3));
  const rl4 = rl.find((x) => x.name === "rl_signin_4").response;
  add("not-in-spec", ["rateLimit.rl_signin_4", "rateLimit.rl_signin_other_ip"],
    `429: statusText "${rl4.statusText}", headers exactly ${JSON.stringify(Object.keys(rl4.headers))} (X-Retry-After "${rl4.headers["x-retry-after"]}"), body ${JSON.stringify(rl4.body)} (no code). A different X-Forwarded-For is a separate bucket.`,
    rl4.status === 429 && rl4.headers["x-retry-after"] !== undefined && rl.find((x) => x.name === "rl_signin_other_ip").response.status === 200);
  const xs = row("signin_xff_single"), xl = row("signin_xff_list");
  const prow = prod.db.session[0];
  add("not-in-spec", ["signin_xff_single", "signin_xff_list", "production.prod_signup_no_ip"],
    `session.ipAddress: single X-Forwarded-For -> "${xs?.ipAddress}"; comma list -> "${xl?.ipAddress}" (development fallback); production with no usable IP -> ${JSON.stringify(prow?.ipAddress)} (empty string, not null).`,
    xs?.ipAddress === "203.0.113.7" && xl?.ipAddress === "127.0.0.1" && prow?.ipAddress === "");
  const p4 = prod.steps.find((x) => x.name === "prod_signin_4").response;
  add("not-in-spec", ["production.prod_signin_4"],
    `Production: rate limiter on by default; with no IP all clients share one bucket, 4th sign-in -> ${p4.status}.`, p4.status === 429);
  const withTok = main.steps.filter((x) => "set-auth-token" in x.response.headers).map((x) => x.name);
  const withCookie = main.steps.filter((x) => x.response.cookies.some((c) => c.name === "better-auth.session_token" && c.value !== "")).map((x) => x.name);
  add("not-in-spec", withTok,
    `set-auth-token (with Access-Control-Expose-Headers: set-auth-token) appears exactly on responses that set a non-empty session_token: ${withTok.join(", ")}.`,
    same(withTok, withCookie) && main.steps.filter((x) => "set-auth-token" in x.response.headers).every((x) => x.response.headers["access-control-expose-headers"] === "set-auth-token"));

  // --- fixture artefacts ------------------------------------------------------
  const su = s("signup_ok");
  add("fixture", ["signup_ok", "get_session_cookie"],
    "Memory adapter: never-set optional fields are ABSENT (user JSON has no \"image\" key; session rows have no null keys). SQL adapters return \"image\":null; the JS client tolerates both. Compare user/session key sets modulo image.",
    !("image" in su.body.user));
  add("fixture", ["signup_ok"],
    "Key order from the memory adapter: user name,email,emailVerified,createdAt,updatedAt,id; session expiresAt,token,createdAt,updatedAt,ipAddress,userAgent,userId,id. Irrelevant to clients.",
    Object.keys(su.body.user).at(-1) === "id");
  return notes;
}

// ---------------------------------------------------------------------------
if (MODE === "production") {
  const prod = await productionRun();
  process.stdout.write(JSON.stringify({ versions: versions(), ...prod }));
} else {
  const main = await mainRun();
  const rl = await rateLimitRun();
  const nodeAdapter = await nodeAdapterRun();
  const child = execFileSync(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, GOLDEN_MODE: "production" },
    encoding: "utf8",
    maxBuffer: 64 << 20,
    timeout: 120_000,
  });
  const prod = JSON.parse(child);
  const notes = buildNotes(main, rl, prod, nodeAdapter);
  writeJSON(OUT, {
    generatedBy: "tests/compat/gen-golden.mjs",
    generatedAt: new Date().toISOString(),
    versions: versions(),
    config: {
      secret: SECRET,
      baseURL: BASE_URL,
      basePath: BASE_PATH,
      trustedOrigins: [BASE_URL],
      advanced: { cookiePrefix: "better-auth" },
      emailAndPassword: { enabled: true },
      user: { deleteUser: { enabled: true } },
      plugins: ["bearer()"],
      database: "memoryAdapter",
      NODE_ENV: process.env.NODE_ENV,
    },
    howToRead:
      "steps[] is one continuous scripted session against a single Better Auth instance; replay{} names the earlier step whose " +
      "cookie/token a request reused. response.headers excludes set-cookie; response.setCookie lists the raw Set-Cookie lines and " +
      "response.cookies their parsed form. bodyKind is json|text|empty. rateLimit[] is a separate instance with rateLimit.enabled; " +
      "production is a separate process with NODE_ENV=production; nodeAdapter[] is served over node:http with toNodeHandler.",
    notes,
    steps: main.steps,
    dbAtEnd: main.db,
    rateLimit: { config: { rateLimit: { enabled: true } }, steps: rl },
    production: { config: { NODE_ENV: "production" }, steps: prod.steps, dbAtEnd: prod.db },
    nodeAdapter: { config: { server: "node:http + toNodeHandler from better-auth/node" }, steps: nodeAdapter },
  });
  console.log(`wrote ${OUT} (${main.steps.length} steps, ${rl.length} rate-limit steps, ${prod.steps.length} production steps, ${notes.length} notes)`);
}
