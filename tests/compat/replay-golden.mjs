// Replays the main `steps` of auth/testdata/betterauth-golden.json against a
// running server and reports where its answers differ from Better Auth's.
//
//   node replay-golden.mjs http://127.0.0.1:8080     (fresh, empty server)
//
// The server must be freshly started with an empty store, default options
// plus deleteUser enabled, and the bearer plugin (the golden config). Cookies,
// tokens and the base URL are substituted with the server's own values as the
// script goes. Compared: status, body kind, error code/message, JSON key sets
// (ignoring "image", which Better Auth's memory adapter omits), Set-Cookie
// names/attribute order/Max-Age/emptiness, and response header names (minus
// the ones any HTTP server adds). Requests go out through node:http, not
// fetch(), because Node's fetch forces "Sec-Fetch-Mode: cors". Prints one line per step and a final
// "N passed, M failed"; exit 1 when anything differs.

import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const baseURL = (process.argv[2] || process.env.BASE_URL || "").replace(/\/+$/, "");
if (!baseURL) {
  console.error("usage: node replay-golden.mjs <baseURL>");
  process.exit(2);
}
const only = process.env.ONLY ? new Set(process.env.ONLY.split(",")) : null;
const golden = JSON.parse(readFileSync(join(HERE, "..", "..", "auth", "testdata", "betterauth-golden.json"), "utf8"));
const GOLDEN_BASE = golden.config.baseURL;
const WIRE_HEADERS = new Set(["date", "content-length", "connection", "keep-alive", "transfer-encoding"]);

const subst = new Map(); // golden value -> our value
function learn(goldenValue, ourValue) {
  if (typeof goldenValue === "string" && goldenValue && typeof ourValue === "string" && ourValue) subst.set(goldenValue, ourValue);
}
function rewrite(s) {
  if (typeof s !== "string") return s;
  const keys = [...subst.keys()].sort((a, b) => b.length - a.length);
  for (const k of keys) s = s.split(k).join(subst.get(k));
  return s.split(GOLDEN_BASE).join(baseURL);
}
const cookieVal = (lines, name) => {
  for (const l of lines || []) {
    const [nv] = l.split(";");
    const i = nv.indexOf("=");
    if (nv.slice(0, i) === name) return nv.slice(i + 1);
  }
  return undefined;
};
const parseCookies = (lines) =>
  (lines || []).map((l) => {
    const [nv, ...attrs] = l.split(";").map((x) => x.trim());
    const i = nv.indexOf("=");
    const a = attrs.map((x) => x.split("=")[0]);
    const maxAge = attrs.find((x) => x.startsWith("Max-Age="));
    return { name: nv.slice(0, i), empty: nv.slice(i + 1) === "", attrs: a.join(";"), maxAge: maxAge ? maxAge.slice(8) : null };
  });

function keyShape(v, depth = 0) {
  if (v === null) return "null";
  if (Array.isArray(v)) return v.length ? [keyShape(v[0], depth + 1)] : [];
  if (typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v).filter((k) => k !== "image").sort()) o[k] = depth < 2 ? keyShape(v[k], depth + 1) : typeof v[k];
    return o;
  }
  return typeof v;
}

// Exact-header HTTP/1.1 request; resolves to a fetch-like {res, text}.
function rawRequest(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    const buf = body === undefined ? undefined : Buffer.from(body, "utf8");
    if (buf) h["content-length"] = String(buf.length);
    const r = httpRequest(url, { method, headers: h, timeout: 15000 }, (m) => {
      const chunks = [];
      m.on("data", (c) => chunks.push(c));
      m.on("end", () => {
        const hs = new Headers();
        for (let i = 0; i < m.rawHeaders.length; i += 2) hs.append(m.rawHeaders[i], m.rawHeaders[i + 1]);
        resolve({ res: { status: m.statusCode, headers: hs }, text: Buffer.concat(chunks).toString("utf8") });
      });
      m.on("error", reject);
    });
    r.on("timeout", () => r.destroy(new Error("timeout")));
    r.on("error", reject);
    if (buf) r.write(buf);
    r.end();
  });
}

let passed = 0;
let failed = 0;
const ours = new Map();
for (const step of golden.steps) {
  const g = step.response;
  const req = step.request;
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = rewrite(v);
  if (step.replay?.tamper === "signature") {
    const src = ours.get(step.replay.cookieFrom);
    const v = cookieVal(src?.setCookie, "better-auth.session_token");
    if (v) {
      const i = v.indexOf(".") + 3;
      headers.cookie = `better-auth.session_token=${v.slice(0, i)}${v[i] === "A" ? "B" : "A"}${v.slice(i + 1)}`;
    }
  }
  const body = req.body === null ? undefined : rewrite(req.body);
  let res, text;
  try {
    ({ res, text } = await rawRequest(req.method, baseURL + req.path, headers, body));
  } catch (e) {
    failed++;
    console.log(`FAIL - ${step.name}: request failed: ${e}`);
    continue;
  }
  const setCookie = res.headers.getSetCookie();
  let json;
  let kind = text === "" ? "empty" : "text";
  if (kind === "text" && (res.headers.get("content-type") || "").includes("json")) {
    try {
      json = JSON.parse(text);
      kind = "json";
    } catch {}
  }
  const mine = { status: res.status, setCookie, headers: Object.fromEntries([...res.headers].filter(([k]) => k !== "set-cookie")), kind, body: kind === "json" ? json : text };
  ours.set(step.name, mine);

  // learn substitutions from this step
  learn(cookieVal(g.setCookie, "better-auth.session_token"), cookieVal(setCookie, "better-auth.session_token"));
  learn(cookieVal(g.setCookie, "better-auth.dont_remember"), cookieVal(setCookie, "better-auth.dont_remember"));
  learn(g.headers["set-auth-token"], mine.headers["set-auth-token"]);
  if (g.bodyKind === "json" && g.body && typeof g.body === "object" && kind === "json" && json && typeof json === "object") {
    learn(g.body.token, json.token);
    learn(g.body.user?.id, json.user?.id);
  }

  const diffs = [];
  if (g.status !== res.status) diffs.push(`status ${res.status}, want ${g.status}`);
  if (g.bodyKind !== kind) diffs.push(`body kind ${kind}, want ${g.bodyKind}`);
  if (g.bodyKind === "json" && kind === "json") {
    const gb = g.body;
    if (gb && typeof gb === "object" && !Array.isArray(gb) && "code" in gb) {
      if (json?.code !== gb.code) diffs.push(`code ${JSON.stringify(json?.code)}, want ${gb.code}`);
      if (json?.message !== gb.message) diffs.push(`message ${JSON.stringify(json?.message)}, want ${JSON.stringify(gb.message)}`);
    } else if (gb && typeof gb === "object" && !Array.isArray(gb) && "message" in gb && !("code" in gb)) {
      if (json?.message !== gb.message || (json && "code" in json)) diffs.push(`body ${JSON.stringify(json)}, want ${JSON.stringify(gb)}`);
    } else {
      const a = JSON.stringify(keyShape(json));
      const b = JSON.stringify(keyShape(gb));
      if (a !== b) diffs.push(`JSON shape ${a}, want ${b}`);
      if (Array.isArray(gb) && (!Array.isArray(json) || json.length !== gb.length)) diffs.push(`array length ${json?.length}, want ${gb.length}`);
      for (const k of ["status", "success", "redirect", "url", "message", "ok"]) {
        if (gb && typeof gb === "object" && k in gb && JSON.stringify(json?.[k]) !== JSON.stringify(gb[k])) diffs.push(`${k} ${JSON.stringify(json?.[k])}, want ${JSON.stringify(gb[k])}`);
      }
    }
  }
  const gc = JSON.stringify(parseCookies(g.setCookie));
  const oc = JSON.stringify(parseCookies(setCookie));
  if (gc !== oc) diffs.push(`Set-Cookie ${oc}, want ${gc}`);
  const gh = Object.keys(g.headers).filter((k) => !WIRE_HEADERS.has(k)).sort();
  const oh = Object.keys(mine.headers).filter((k) => !WIRE_HEADERS.has(k)).sort();
  if (JSON.stringify(gh) !== JSON.stringify(oh)) diffs.push(`header names ${JSON.stringify(oh)}, want ${JSON.stringify(gh)}`);
  for (const h of ["cache-control", "pragma", "access-control-expose-headers", "x-retry-after"]) {
    if (h in g.headers && h in mine.headers && g.headers[h] !== mine.headers[h]) diffs.push(`${h}: ${mine.headers[h]}, want ${g.headers[h]}`);
  }
  if ("location" in g.headers && rewrite(g.headers.location) !== mine.headers.location && g.headers.location !== mine.headers.location) {
    diffs.push(`location ${mine.headers.location}, want ${g.headers.location}`);
  }
  if (only && !only.has(step.name)) continue;
  if (diffs.length === 0) {
    passed++;
    console.log(`ok   - ${step.name}`);
  } else {
    failed++;
    console.log(`FAIL - ${step.name} (${req.method} ${req.path})`);
    for (const d of diffs) console.log(`       ${d}`);
    if (process.env.VERBOSE) console.log(`       body: ${text.slice(0, 400)}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
