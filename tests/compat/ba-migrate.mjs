// Creates a database exactly as Better Auth's own migration does, then signs a
// user up through Better Auth itself, so that every row (user, account with
// the scrypt hash, session) is written by Better Auth. Used by
// tests/betterauthdb (Go), which then opens the same database with our
// storage adapters.
//
//   node ba-migrate.mjs postgres <url> <schema> <secret> <baseURL>
//   node ba-migrate.mjs sqlite <file> <better-sqlite3 dir> <secret> <baseURL>
//
// postgres: <schema> must exist; the pg pool sets search_path to it, so
// Better Auth's migration (getMigrations from better-auth/db/migration, Kysely
// PostgresDialect over the `pg` pool) creates its tables there.
// sqlite: <file> is created by better-sqlite3 (loaded from
// <better-sqlite3 dir>/node_modules, see tests/betterauthdb/package.json).
//
// Prints one JSON object on stdout: the migration SQL Better Auth ran, the
// credentials, the session cookie Better Auth set, and the session Better
// Auth reads back with that cookie.

import { createRequire } from "node:module";
import { join } from "node:path";
import { BA, loadBetterAuth, versions } from "./harness.mjs";

const [dialect, target, extra, secret, baseURL] = process.argv.slice(2);
if (!dialect || !target || !extra || !secret || !baseURL) {
  console.error("usage: node ba-migrate.mjs postgres <url> <schema> <secret> <baseURL>\n" +
    "       node ba-migrate.mjs sqlite <file> <better-sqlite3 dir> <secret> <baseURL>");
  process.exit(2);
}

await loadBetterAuth();
const { betterAuth } = BA;
const { getMigrations } = await import("better-auth/db/migration");

let database;
let close = async () => {};
if (dialect === "postgres") {
  const { default: pg } = await import("pg");
  if (!/^[a-z_][a-z0-9_]*$/.test(extra)) throw new Error(`invalid schema name ${extra}`);
  database = new pg.Pool({ connectionString: target, options: `-c search_path=${extra}`, max: 2 });
  close = () => database.end();
} else if (dialect === "sqlite") {
  const require = createRequire(join(extra, "package.json"));
  const Database = require("better-sqlite3");
  database = new Database(target);
  close = async () => database.close();
} else {
  throw new Error(`unknown dialect ${dialect}`);
}

const options = {
  database,
  secret,
  baseURL,
  emailAndPassword: { enabled: true },
  logger: { disabled: true },
  telemetry: { enabled: false },
};

try {
  const migration = await getMigrations(options);
  const migrationSQL = await migration.compileMigrations();
  await migration.runMigrations();
  const again = await getMigrations(options);
  if (again.toBeCreated.length || again.toBeAdded.length) {
    throw new Error("Better Auth's migration is not idempotent: " + await again.compileMigrations());
  }

  const auth = betterAuth(options);
  const email = `ba-${Date.now()}@example.com`;
  const password = "correct horse battery staple";
  const name = "Better Auth User";
  const res = await auth.api.signUpEmail({
    body: { email, password, name },
    headers: new Headers({ origin: baseURL }),
    returnHeaders: true,
  });
  const setCookie = res.headers.getSetCookie();
  const cookieName = "better-auth.session_token";
  const line = setCookie.find((c) => c.startsWith(cookieName + "="));
  if (!line) throw new Error("sign-up set no session cookie: " + JSON.stringify(setCookie));
  const cookieValue = line.slice(cookieName.length + 1).split(";")[0];

  // Better Auth reads its own session back through the same cookie.
  const session = await auth.api.getSession({
    headers: new Headers({ cookie: `${cookieName}=${cookieValue}` }),
  });
  if (!session || session.user.email !== email) throw new Error("Better Auth cannot read its own session");

  const ctx = await auth.$context;
  const account = await ctx.internalAdapter.findAccountByUserId(session.user.id);
  const credential = account.find((a) => a.providerId === "credential");

  console.log(JSON.stringify({
    versions: versions(),
    dialect,
    migrationSQL,
    tablesCreated: migration.toBeCreated.map((t) => t.table),
    email,
    password,
    name,
    userId: session.user.id,
    sessionId: session.session.id,
    sessionToken: session.session.token,
    sessionExpiresAt: new Date(session.session.expiresAt).toISOString(),
    userCreatedAt: new Date(session.user.createdAt).toISOString(),
    cookieName,
    cookieValue,
    passwordHash: credential?.password ?? "",
  }));
} finally {
  await close();
}
