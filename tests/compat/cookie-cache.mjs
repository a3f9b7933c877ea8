// Better Auth's session cookie cache (session.cookieCache), both ways, for
// cookiecache_test.go. Reads one JSON request on stdin and prints one JSON
// answer on stdout:
//
//   {"mode":"read","cases":[{name, cookie, secret, strategy, isSecure,
//                            cookiePrefix?, version?}, …]}
//     → {"results":[{name, payload}]}: what getCookieCache (from
//       better-auth/cookies, as a Next.js middleware calls it) returns for
//       the Cookie header `cookie` (payload null when it refuses it), dates
//       as ISO strings.
//
//   {"mode":"mint","secret":…,"cases":[{name, strategy, maxAge?, version?,
//                                       userName?, rememberMe?}, …]}
//     → {"results":[{name, setCookie, cookie, session}]}: a Better Auth
//       server (memory adapter, cookieCache on with that strategy) signs a
//       user up (and in, with rememberMe); setCookie are the Set-Cookie
//       lines of the sign-in, cookie the Cookie header a browser would then
//       send, session Better Auth's own get-session answer.

import { loadBetterAuth, newDB, plain } from "./harness.mjs";

const { betterAuth, memoryAdapter } = await loadBetterAuth();
const { getCookieCache } = await import("better-auth/cookies");

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));

async function read(c) {
  const headers = new Headers({ cookie: c.cookie });
  const config = { secret: c.secret, strategy: c.strategy, isSecure: c.isSecure };
  if (c.cookiePrefix) config.cookiePrefix = c.cookiePrefix;
  if (c.version) config.version = c.version;
  try {
    const payload = await getCookieCache(headers, config);
    return { name: c.name, payload: payload ? plain(payload) : null };
  } catch (e) {
    return { name: c.name, payload: null, error: String(e && e.message) };
  }
}

async function mint(secret, c) {
  const baseURL = "http://localhost:3000";
  const auth = betterAuth({
    database: memoryAdapter(newDB()),
    secret,
    baseURL,
    emailAndPassword: { enabled: true },
    session: {
      cookieCache: {
        enabled: true,
        strategy: c.strategy,
        ...(c.maxAge ? { maxAge: c.maxAge } : {}),
        ...(c.version ? { version: c.version } : {}),
      },
    },
    rateLimit: { enabled: false },
    logger: { disabled: true },
  });
  const send = (method, path, body, cookie) =>
    auth.handler(
      new Request(baseURL + "/api/auth" + path, {
        method,
        headers: {
          ...(body ? { "content-type": "application/json" } : {}),
          ...(cookie ? { cookie } : {}),
          origin: baseURL,
        },
        body: body ? JSON.stringify(body) : undefined,
      }),
    );
  const email = `cache-${c.strategy}-${Math.random().toString(36).slice(2)}@example.com`;
  const password = "correct horse battery staple";
  let res = await send("POST", "/sign-up/email", { name: c.userName || "Cookie Cache", email, password });
  if (res.status !== 200) throw new Error(`sign-up: ${res.status} ${await res.text()}`);
  res = await send("POST", "/sign-in/email", { email, password, rememberMe: c.rememberMe !== false });
  if (res.status !== 200) throw new Error(`sign-in: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.getSetCookie();
  const cookie = setCookie
    .map((l) => l.split(";")[0])
    .filter((nv) => !nv.endsWith("="))
    .join("; ");
  const got = await send("GET", "/get-session", undefined, cookie);
  return { name: c.name, setCookie, cookie, session: await got.json() };
}

let out;
if (req.mode === "read") {
  out = { results: [] };
  for (const c of req.cases) out.results.push(await read(c));
} else if (req.mode === "mint") {
  out = { results: [] };
  for (const c of req.cases) out.results.push(await mint(req.secret, c));
} else {
  console.error(`unknown mode ${req.mode}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(out) + "\n");
