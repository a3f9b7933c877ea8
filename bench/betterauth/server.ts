// A minimal Better Auth 1.7.25 server on Bun, the other side of the
// benchmark against mana-auth (bench/betterauth/README.md). It is set up
// as upstream mana-auth set up Better Auth (services/mana-auth at
// 7b362066b) for the routes the load tool drives, and no more:
//
//   - email and password, a no-op verification mail on sign-up (upstream
//     sent one; ours goes to its log mailer), no verification required;
//   - the bearer plugin (the load tool sends the session token as
//     Authorization: Bearer) and the jwt plugin with EdDSA (Ed25519, its
//     default), upstream's issuer (BASE_URL), audience "mana", 15 minutes
//     and payload {sub, email, role, sid, tier};
//   - PostgreSQL through Better Auth's Kysely adapter over a `pg` pool;
//   - Better Auth's rate limiter off;
//   - POST /api/v1/auth/validate: upstream's route, verifying the token with
//     `jose` against the server's own JWKS. Upstream built a new
//     createRemoteJWKSet on every request, so every validation fetched
//     GET /api/auth/jwks over HTTP first; BA_VALIDATE_JWKS=cached keeps one
//     for the process (jose then caches the keys), which upstream did not;
//   - POST /api/v1/auth/login: upstream's wrapper (sign-in through the
//     handler, its Set-Cookie replayed to GET /api/auth/token, the answer
//     {…sign-in, accessToken, refreshToken}), without upstream's lockout
//     check and security-event rows;
//   - GET /health for the load tool's readiness probe.
//
// Environment: DATABASE_URL (required), PORT, BASE_URL (default
// http://127.0.0.1:PORT), AUTH_SECRET (or BETTER_AUTH_SECRET), PG_POOL_MAX
// (default 16, as mana-auth), BA_VALIDATE_JWKS (per-request | cached).
//
//   bun server.ts migrate   create Better Auth's tables (its own migration) and exit
//   bun server.ts           serve on 127.0.0.1:PORT

import { betterAuth } from "better-auth";
import { bearer, jwt } from "better-auth/plugins";
import { createRemoteJWKSet, jwtVerify } from "jose";
import pg from "pg";

const env = process.env;
const databaseURL = env.DATABASE_URL;
if (!databaseURL) {
  console.error("server.ts: DATABASE_URL is required (postgres://…)");
  process.exit(2);
}
const port = Number(env.PORT || 3002);
const baseURL = (env.BASE_URL || `http://127.0.0.1:${port}`).replace(/\/+$/, "");
const secret = env.AUTH_SECRET || env.BETTER_AUTH_SECRET || "bench-betterauth-secret-0123456789abcdef";
const validateMode = env.BA_VALIDATE_JWKS || "per-request";
if (validateMode !== "per-request" && validateMode !== "cached") {
  console.error(`server.ts: BA_VALIDATE_JWKS=${validateMode}: want per-request or cached`);
  process.exit(2);
}

const pool = new pg.Pool({ connectionString: databaseURL, max: Number(env.PG_POOL_MAX || 16) });

const options = {
  database: pool,
  secret,
  baseURL,
  emailAndPassword: { enabled: true, requireEmailVerification: false },
  emailVerification: {
    sendOnSignUp: true,
    // The mail is built (its token signed) and dropped.
    sendVerificationEmail: async () => {},
  },
  session: { expiresIn: 60 * 60 * 24 * 7, updateAge: 60 * 60 * 24 },
  rateLimit: { enabled: false },
  plugins: [
    bearer(),
    jwt({
      jwks: { keyPairConfig: { alg: "EdDSA", crv: "Ed25519" } },
      jwt: {
        issuer: baseURL,
        audience: "mana",
        expirationTime: "15m",
        definePayload({ user, session }: { user: any; session: any }) {
          return {
            sub: user.id,
            email: user.email,
            role: user.role || "user",
            sid: session.id,
            tier: user.accessTier || "public",
          };
        },
      },
    }),
  ],
  logger: { disabled: true },
  telemetry: { enabled: false },
};

if (process.argv[2] === "migrate") {
  const { getMigrations } = await import("better-auth/db/migration");
  const m = await getMigrations(options as any);
  await m.runMigrations();
  const again = await getMigrations(options as any);
  if (again.toBeCreated.length || again.toBeAdded.length) {
    console.error("server.ts: the migration left work undone");
    process.exit(1);
  }
  console.log(`migrated: created ${m.toBeCreated.map((t: any) => t.table).join(", ") || "nothing"}`);
  await pool.end();
  process.exit(0);
}

const auth = betterAuth(options as any);

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function fail(code: string, message: string, status: number): Response {
  return json({ error: code, message, status }, status);
}

const jwksURL = new URL("/api/auth/jwks", baseURL);
let cachedJWKS: ReturnType<typeof createRemoteJWKSet> | undefined;

// Upstream's POST /api/v1/auth/validate.
async function validate(req: Request): Promise<Response> {
  let body: { token?: string };
  try {
    body = await req.json();
  } catch {
    return fail("VALIDATION", "Invalid JSON body", 400);
  }
  if (!body?.token) return json({ valid: false });
  try {
    const jwks = validateMode === "cached" ? (cachedJWKS ??= createRemoteJWKSet(jwksURL)) : createRemoteJWKSet(jwksURL);
    const { payload } = await jwtVerify(body.token, jwks, { issuer: baseURL, audience: "mana" });
    return json({ valid: true, payload });
  } catch (error) {
    const msg = error instanceof Error ? error.message.toLowerCase() : "";
    if (msg.includes("jwks") || msg.includes("fetch failed")) {
      return fail("SERVICE_UNAVAILABLE", "Service unavailable", 503);
    }
    return json({ valid: false });
  }
}

// Upstream's POST /api/v1/auth/login, less its lockout and security log.
async function login(req: Request): Promise<Response> {
  let body: { email?: string; password?: string };
  try {
    body = await req.json();
  } catch {
    return fail("VALIDATION", "Invalid JSON body", 400);
  }
  const xff = req.headers.get("x-forwarded-for");
  let signIn: Response;
  try {
    signIn = await auth.handler(
      new Request(new URL("/api/auth/sign-in/email", baseURL), {
        method: "POST",
        headers: new Headers({ "Content-Type": "application/json", ...(xff ? { "X-Forwarded-For": xff } : {}) }),
        body: JSON.stringify({ email: body.email, password: body.password }),
      }),
    );
  } catch {
    return fail("SERVICE_UNAVAILABLE", "Service unavailable", 503);
  }
  if (!signIn.ok) {
    if (signIn.status === 401) return fail("INVALID_CREDENTIALS", "Invalid email or password", 401);
    if (signIn.status === 403) return fail("EMAIL_NOT_VERIFIED", "Email not verified", 403);
    return fail("SERVICE_UNAVAILABLE", "Service unavailable", signIn.status >= 500 ? 503 : signIn.status);
  }
  const response = (await signIn.json()) as Record<string, unknown>;
  const setCookie = signIn.headers.get("set-cookie");
  if (setCookie) {
    const tokenResponse = await auth.handler(
      new Request(new URL("/api/auth/token", baseURL), { method: "GET", headers: new Headers({ cookie: setCookie }) }),
    );
    if (tokenResponse.ok) {
      const tokenData = (await tokenResponse.json()) as { token: string };
      return json({ ...response, accessToken: tokenData.token, refreshToken: response.token });
    }
  }
  return json(response);
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  idleTimeout: 60,
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/health") return json({ status: "ok", service: "better-auth-bench", timestamp: new Date().toISOString() });
    if (req.method === "POST" && path === "/api/v1/auth/validate") return validate(req);
    if (req.method === "POST" && path === "/api/v1/auth/login") return login(req);
    if (path.startsWith("/api/auth/")) return auth.handler(req);
    return json({ error: "NOT_FOUND" }, 404);
  },
  error(err) {
    console.error(err);
    return fail("INTERNAL", "Internal error", 500);
  },
});
console.log(`listening ${baseURL} (Bun ${Bun.version}, validate JWKS ${validateMode})`);

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, async () => {
    server.stop(true);
    await pool.end().catch(() => {});
    process.exit(0);
  });
}
