// Serves real Better Auth 1.7 with one of the plugins the *-client.mjs
// scripts drive over HTTP on 127.0.0.1, for checking
// those scripts themselves: each must pass against it and against our
// server (plugins_test.go).
//
//   PLUGINS_REFERENCE=admin [REFERENCE_PG_URL=postgres://… REFERENCE_PG_SCHEMA=s] \
//     node plugins-reference-server.mjs [port]
//
// PLUGINS_REFERENCE is a comma-separated list of admin, username,
// multi-session, email-otp and api-key. Prints "listening <baseURL>" once
// ready. As the Go test servers do, it serves:
//
//   - with admin: an admin, ADMIN_EMAIL / ADMIN_PASSWORD (environment),
//     created before the server listens;
//   - with email-otp: GET /__test/otp?email=<email>&type=<type>[&wait=<ms>]
//     answering {otp} with the newest code sent to that address for that
//     type, once (it is forgotten when read), waiting up to wait ms (default
//     3000) for one; 404 null if none came.
//
// Rate limiting is off; email verification signs in automatically, and a
// password reset ends the user's sessions (the Go tests are configured
// alike).

import { createServer } from "node:http";
import { loadBetterAuth, newDB, SECRET } from "./harness.mjs";

const { betterAuth, memoryAdapter } = await loadBetterAuth();
const { toNodeHandler } = await import("better-auth/node");
const { admin, username, multiSession, emailOTP } = await import("better-auth/plugins");

const wanted = new Set((process.env.PLUGINS_REFERENCE || "").split(",").map((s) => s.trim()).filter(Boolean));
const known = ["admin", "username", "multi-session", "email-otp", "api-key"];
for (const p of wanted) {
  if (!known.includes(p)) {
    console.error(`plugins-reference-server.mjs: unknown plugin ${p} (PLUGINS_REFERENCE: ${known.join(", ")})`);
    process.exit(2);
  }
}

// codes: "<type>:<email>" -> newest code not yet read.
const codes = new Map();
async function takeCode(email, type, waitMs) {
  const key = `${type}:${email.toLowerCase()}`;
  const until = Date.now() + waitMs;
  for (;;) {
    if (codes.has(key)) {
      const otp = codes.get(key);
      codes.delete(key);
      return otp;
    }
    if (Date.now() >= until) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const plugins = [];
if (wanted.has("admin")) plugins.push(admin());
if (wanted.has("username")) plugins.push(username());
if (wanted.has("email-otp")) {
  plugins.push(
    emailOTP({
      async sendVerificationOTP({ email, otp, type }) {
        codes.set(`${type}:${email.toLowerCase()}`, otp);
      },
    }),
  );
}
if (wanted.has("api-key")) {
  const { apiKey } = await import("@better-auth/api-key");
  plugins.push(apiKey({ enableMetadata: true, enableSessionForAPIKeys: true }));
}
// Last, as on our servers: its after-hook sees the others' session cookies.
if (wanted.has("multi-session")) plugins.push(multiSession());

let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer(async (req, res) => {
  const u = new URL(req.url, "http://x");
  if (u.pathname === "/__test/otp") {
    const otp = await takeCode(u.searchParams.get("email") || "", u.searchParams.get("type") || "", Number(u.searchParams.get("wait") || 3000));
    res.statusCode = otp ? 200 : 404;
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(otp ? { otp } : null));
    return;
  }
  handler(req, res);
});
// The database: PostgreSQL when REFERENCE_PG_URL and REFERENCE_PG_SCHEMA
// (an existing, empty schema) are set, migrated by Better Auth itself;
// otherwise the memory adapter, whose records leave out the unset columns
// (image, banReason, …) that a SQL database answers as null.
let database;
const pgURL = process.env.REFERENCE_PG_URL;
const pgSchema = process.env.REFERENCE_PG_SCHEMA;
if (pgURL && pgSchema) {
  if (!/^[a-z_][a-z0-9_]*$/.test(pgSchema)) throw new Error(`invalid schema name ${pgSchema}`);
  const { default: pg } = await import("pg");
  database = new pg.Pool({ connectionString: pgURL, options: `-c search_path=${pgSchema}`, max: 4 });
} else {
  database = memoryAdapter({ ...newDB(), apikey: [] });
}

server.listen(Number(process.argv[2] || process.env.PORT || 0), "127.0.0.1", async () => {
  const baseURL = `http://127.0.0.1:${server.address().port}`;
  const options = {
    database,
    secret: SECRET,
    baseURL,
    emailAndPassword: { enabled: true, revokeSessionsOnPasswordReset: true },
    emailVerification: { autoSignInAfterVerification: true },
    rateLimit: { enabled: false },
    plugins,
    logger: { disabled: true },
    telemetry: { enabled: false },
  };
  if (pgURL && pgSchema) {
    const { getMigrations } = await import("better-auth/db/migration");
    const { runMigrations } = await getMigrations(options);
    await runMigrations();
  }
  const auth = betterAuth(options);
  if (wanted.has("admin")) {
    const email = process.env.ADMIN_EMAIL;
    const password = process.env.ADMIN_PASSWORD;
    if (!email || !password) {
      console.error("plugins-reference-server.mjs: ADMIN_EMAIL and ADMIN_PASSWORD must be set with admin");
      process.exit(2);
    }
    // A server call (no request): no session needed.
    await auth.api.createUser({ body: { email, password, name: "Root", role: "admin" } });
  }
  handler = toNodeHandler(auth);
  console.log(`listening ${baseURL}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
