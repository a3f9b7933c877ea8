// Shared harness of the Node-side compatibility scripts: a cookie jar, a
// fetch that keeps cookies and sends the page's Origin (Node's fetch does
// neither), and check()/summary() printing "N passed, M failed".

const REQUEST_TIMEOUT_MS = Number(process.env.CLIENT_REQUEST_TIMEOUT_MS || 15000);
const VERBOSE = !!process.env.CLIENT_VERBOSE;
// DISTINCT_IPS=1 sends each request with its own X-Forwarded-For, so a
// server that trusts the loopback proxy (TRUSTED_PROXIES) sees every
// request from a new client IP and its per-IP rate limits (sign-in: 3 per
// 10 s) do not trip over the scripted flows.
const DISTINCT_IPS = process.env.DISTINCT_IPS === "1";
let ipCounter = Math.floor(Math.random() * 0xffffff);
function nextIP() {
  ipCounter = (ipCounter + 1) & 0xffffff;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

// ---------------------------------------------------------------- cookie jar
// name -> value. Good enough for one host: no domain/path matching, honours
// Max-Age<=0 / empty value / past Expires as deletion.
export class Jar {
  constructor() {
    this.cookies = new Map();
  }
  store(setCookieLines) {
    for (const line of setCookieLines) {
      const [nv, ...attrs] = line.split(";");
      const eq = nv.indexOf("=");
      if (eq < 1) continue;
      const name = nv.slice(0, eq).trim();
      const value = nv.slice(eq + 1).trim();
      let expired = value === "";
      for (const a of attrs) {
        const [k, v = ""] = a.split("=");
        const key = k.trim().toLowerCase();
        if (key === "max-age" && Number(v.trim()) <= 0) expired = true;
        if (key === "expires" && Date.parse(v.trim()) <= Date.now()) expired = true;
      }
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  get(name) {
    return this.cookies.get(name);
  }
  clear() {
    this.cookies.clear();
  }
}


export function harness(baseURL) {
const ORIGIN = new URL(baseURL).origin;
const jar = new Jar();
const log = []; // last few exchanges, printed on failure

// makeFetch returns a fetch that keeps jar's cookies; who labels its
// exchanges in the failure log (several users, several jars).
const makeFetch = (jar, who) => async function jarFetch(input, init = {}) {
  const req = new Request(input, init);
  const headers = new Headers(req.headers);
  const cookie = jar.header();
  if (cookie) headers.set("cookie", cookie);
  else headers.delete("cookie");
  if (!headers.has("origin")) headers.set("origin", ORIGIN);
  if (DISTINCT_IPS) headers.set("x-forwarded-for", nextIP());
  const body = ["GET", "HEAD"].includes(req.method) ? undefined : await req.text();
  const res = await fetch(req.url, {
    method: req.method,
    headers,
    body: body === "" ? undefined : body,
    redirect: "manual",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const setCookie = res.headers.getSetCookie();
  jar.store(setCookie);
  const text = await res.clone().text();
  const entry = {
    who,
    request: `${req.method} ${new URL(req.url).pathname}${new URL(req.url).search}`,
    requestBody: body ? body.slice(0, 300) : undefined,
    sentCookie: cookie || undefined,
    status: res.status,
    contentType: res.headers.get("content-type"),
    setCookie: setCookie.length ? setCookie : undefined,
    body: text.slice(0, 600),
  };
  log.push(entry);
  if (log.length > 12) log.shift();
  if (VERBOSE) console.log("  >>", JSON.stringify(entry));
  return res;
};
const jarFetch = makeFetch(jar);

// ---------------------------------------------------------------- checks
let passed = 0;
let failed = 0;

function describe(v) {
  if (v instanceof Date) return `Date(${isNaN(v) ? "Invalid" : v.toISOString()})`;
  try {
    return JSON.stringify(v, (k, x) => (typeof x === "string" && x.length > 200 ? x.slice(0, 200) + "…" : x));
  } catch {
    return String(v);
  }
}

async function check(name, fn) {
  const problems = [];
  const expect = (cond, what, got) => {
    if (!cond) problems.push(got === undefined ? what : `${what} (got ${describe(got)})`);
  };
  try {
    await fn(expect);
  } catch (e) {
    problems.push(`threw ${e && e.stack ? e.stack : e}`);
  }
  if (problems.length === 0) {
    passed++;
    console.log(`ok   - ${name}`);
  } else {
    failed++;
    console.log(`FAIL - ${name}`);
    for (const p of problems) console.log(`       ${p}`);
    console.log("       recent exchanges:");
    for (const e of log.slice(-4)) console.log(`         ${describe(e)}`);
  }
}


function summary() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

return { jar, jarFetch, makeFetch, check, summary, describe, log, ORIGIN };
}
