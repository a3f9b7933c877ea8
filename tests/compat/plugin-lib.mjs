// Shared by the plugin client scripts (admin-client.mjs,
// username-client.mjs, multisession-client.mjs, emailotp-client.mjs,
// apikey-client.mjs): the base URL, browsers running Better Auth's client
// with the plugin's client plugin over a cookie jar, and shape checks.

import { createAuthClient } from "better-auth/client";
import { harness, Jar } from "./lib.mjs";

// setup reads the base URL (argument or BASE_URL) and returns the
// harness's check/summary and browser(label), a browser with its own
// cookie jar and Better Auth's client with the given client plugins.
// REFERENCE is set when the server is real Better Auth
// (plugins-reference-server.mjs).
export function setup(script, plugins) {
  const baseURL = process.argv[2] || process.env.BASE_URL;
  if (!baseURL) {
    console.error(`usage: node ${script} <baseURL>   (or BASE_URL=...)`);
    process.exit(2);
  }
  const h = harness(baseURL);
  const browser = (label) => {
    const jar = new Jar();
    const jarFetch = h.makeFetch(jar, label);
    const client = createAuthClient({ baseURL, plugins: plugins(), fetchOptions: { customFetchImpl: jarFetch } });
    return { label, jar, jarFetch, client };
  };
  return { ...h, baseURL, AUTH: `${baseURL}/api/auth`, browser, REFERENCE: process.env.REFERENCE === "1" };
}

// env returns the environment variable k, or exits 2 naming it.
export function env(k, script) {
  const v = process.env[k];
  if (!v) {
    console.error(`${script}: ${k} is not set`);
    process.exit(2);
  }
  return v;
}

export const isDate = (v) => v instanceof Date && !isNaN(v.getTime());
export const isStr = (v) => typeof v === "string" && v.length > 0;
export const keys = (o) => (o && typeof o === "object" ? Object.keys(o).sort() : o);
export const sameKeys = (o, want) => JSON.stringify(keys(o)) === JSON.stringify([...want].sort());
export const uniq = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

export const SESSION_COOKIE = "better-auth.session_token";

// The core user and session objects' keys.
export const USER_KEYS = ["id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt"];
export const SESSION_KEYS = ["id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent"];

// expectKeys holds o's key set to want.
export function expectKeys(expect, o, want, what) {
  expect(sameKeys(o, want), `${what} keys {${[...want].sort().join(", ")}}`, keys(o));
}

// expectError holds a client answer {data, error} to an error of status
// with want's code and message (want: an entry of a client plugin's
// $ERROR_CODES, or {code, message}; a missing code or message is held to
// be absent, e.g. {message} for Better Auth's "message only" bodies, {}
// for an empty body).
export function expectError(expect, r, status, want, what = "") {
  const p = what ? `${what}: ` : "";
  expect(r?.data === null, `${p}data is null`, r?.data);
  const e = r?.error;
  expect(e?.status === status, `${p}status ${status}`, e);
  expect(e?.code === want.code, `${p}code ${want.code}`, e?.code);
  expect(e?.message === want.message, `${p}message ${JSON.stringify(want.message)}`, e?.message);
}

// expectOK holds a client answer to a success and returns its data.
export function expectOK(expect, r, what = "") {
  expect(r?.error === null, `${what ? `${what}: ` : ""}error is null`, r?.error);
  return r?.data;
}

// capture returns fetch options that keep the response's headers in
// got.headers.
export function capture() {
  const got = { headers: null };
  got.options = {
    onResponse(ctx) {
      got.headers = ctx.response.headers;
    },
  };
  return got;
}

// cookieLine returns the last Set-Cookie line of the cookie name that
// sets a value (not one that expires it), or undefined.
export const cookieLine = (lines, name) => (lines || []).filter((l) => l.startsWith(`${name}=`) && !l.startsWith(`${name}=;`)).at(-1);

// expiresCookie reports whether a Set-Cookie line of lines expires the
// cookie name (an empty value with Max-Age=0).
export const expiresCookie = (lines, name) =>
  (lines || []).some((l) => l.startsWith(`${name}=;`) && /;\s*max-age=0(;|$)/i.test(l));

// cookieAttrs parses a Set-Cookie line's attributes (lower-cased names).
export const cookieAttrs = (line) =>
  Object.fromEntries(
    (line || "")
      .split(";")
      .slice(1)
      .map((a) => a.trim().split("="))
      .map(([k, v = true]) => [k.toLowerCase(), v]),
  );

// tokenOf returns the token of a signed cookie value "<token>.<sig>".
export const tokenOf = (value) => {
  const v = decodeURIComponent(value || "");
  const i = v.lastIndexOf(".");
  return i < 0 ? v : v.slice(0, i);
};
