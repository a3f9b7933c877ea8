// Shared helpers for the fixture generators (gen-vectors.mjs, gen-golden.mjs).
//
// Better Auth reads NODE_ENV once, when @better-auth/core/env is first imported,
// and skips the origin/CSRF checks when NODE_ENV=test (or TEST is truthy). So the
// environment is fixed here, before anything from better-auth is imported, and
// better-auth itself is loaded with dynamic import().
//
// Call `await loadBetterAuth()` before using anything else in this module.

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, "..", "..");
export const TESTDATA = join(REPO, "auth", "testdata");

export const SECRET = "0123456789abcdef0123456789abcdef-secret-xyz";
export const BASE_URL = "http://localhost:3000";
export const BASE_PATH = "/api/auth";

export let BA = null; // { betterAuth, memoryAdapter, bearer, jwt, crypto, betterCall }

export async function loadBetterAuth({ nodeEnv = "development" } = {}) {
  if (BA) return BA;
  process.env.NODE_ENV = nodeEnv;
  delete process.env.TEST;
  process.env.BETTER_AUTH_TELEMETRY = "0";
  // Never let ambient configuration leak into the fixtures.
  for (const k of [
    "BETTER_AUTH_SECRET", "AUTH_SECRET", "BETTER_AUTH_SECRETS", "BETTER_AUTH_URL",
    "NEXT_PUBLIC_BETTER_AUTH_URL", "PUBLIC_BETTER_AUTH_URL", "BETTER_AUTH_TRUSTED_ORIGINS",
  ]) delete process.env[k];
  const [{ betterAuth }, { memoryAdapter }, plugins, crypto, betterCall] = await Promise.all([
    import("better-auth"),
    import("better-auth/adapters/memory"),
    import("better-auth/plugins"),
    import("better-auth/crypto"),
    import("better-call"),
  ]);
  BA = { betterAuth, memoryAdapter, bearer: plugins.bearer, jwt: plugins.jwt, crypto, betterCall };
  return BA;
}

export function versions() {
  const v = (name) => JSON.parse(readFileSync(join(HERE, "node_modules", name, "package.json"), "utf8")).version;
  return {
    "better-auth": v("better-auth"),
    "@better-auth/core": v("@better-auth/core"),
    "@better-auth/utils": v("@better-auth/utils"),
    "better-call": v("better-call"),
    node: process.version,
    NODE_ENV: process.env.NODE_ENV,
  };
}

export function newDB() {
  return { user: [], session: [], account: [], verification: [] };
}

// Deep copy with Date -> ISO string, preserving key order.
export function plain(v) {
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

// Which fields of each stored row were JS Date objects (so a Go test knows what to parse).
export function dateFields(rows) {
  const s = new Set();
  for (const r of rows) for (const [k, x] of Object.entries(r)) if (x instanceof Date) s.add(k);
  return [...s];
}

export function snapshotDB(db) {
  const out = {};
  for (const [table, rows] of Object.entries(db)) out[table] = plain(rows);
  return out;
}

export function headersToObject(h) {
  const o = {};
  for (const [k, v] of h) if (k !== "set-cookie") o[k] = v;
  return o;
}

// Parse a Set-Cookie line into {name, value, attributes:{...}, attributeOrder:[...]}
export function parseSetCookie(line) {
  const parts = line.split(";").map((s) => s.trim());
  const [nv, ...attrs] = parts;
  const eq = nv.indexOf("=");
  const out = { name: nv.slice(0, eq), value: nv.slice(eq + 1), attributes: {}, attributeOrder: [] };
  for (const a of attrs) {
    const i = a.indexOf("=");
    const k = i < 0 ? a : a.slice(0, i);
    out.attributes[k] = i < 0 ? true : a.slice(i + 1);
    out.attributeOrder.push(k);
  }
  return out;
}

export async function readBody(res) {
  const text = await res.text();
  if (text === "") return { bodyKind: "empty", body: "" };
  const ct = res.headers.get("content-type") || "";
  if (ct.includes("json")) {
    try {
      return { bodyKind: "json", body: JSON.parse(text) };
    } catch {
      return { bodyKind: "text", body: text };
    }
  }
  return { bodyKind: "text", body: text };
}

// Send one request through auth.handler and return {request, response} in the
// golden-file shape. `body` may be: undefined (no body), a string (sent as-is),
// a Uint8Array (sent as-is; Request adds no Content-Type), or an object (JSON.stringify'd).
export async function send(auth, { method = "GET", path, headers = {}, body, baseURL = BASE_URL }) {
  let rawBody;
  if (body === undefined || body === null) rawBody = undefined;
  else if (typeof body === "string" || body instanceof Uint8Array) rawBody = body;
  else rawBody = JSON.stringify(body);
  const url = baseURL + path;
  const req = new Request(url, { method, headers, body: rawBody });
  const reqHeaders = headersToObject(req.headers);
  const t0 = Date.now();
  const res = await auth.handler(req);
  const elapsedMs = Date.now() - t0;
  const setCookie = res.headers.getSetCookie();
  const { bodyKind, body: resBody } = await readBody(res);
  return {
    request: {
      method,
      path,
      headers: reqHeaders,
      body: rawBody === undefined ? null : typeof rawBody === "string" ? rawBody : new TextDecoder().decode(rawBody),
    },
    response: {
      status: res.status,
      statusText: res.statusText,
      headers: headersToObject(res.headers),
      setCookie,
      cookies: setCookie.map(parseSetCookie),
      bodyKind,
      body: resBody,
    },
    elapsedMs,
  };
}

// Cookie value for `name` (e.g. "better-auth.session_token") from a recorded response.
export function cookieFrom(step, name = "better-auth.session_token") {
  const c = step.response.cookies.find((c) => c.name === name);
  return c ? c.value : undefined;
}

export function writeJSON(file, data) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(data, null, 2) + "\n");
}
