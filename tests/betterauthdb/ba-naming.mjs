// Creates a PostgreSQL database with Better Auth 1.7.25 under one of its
// naming options, then signs a user up through Better Auth itself, so that
// every row (user, credential account with the scrypt hash, session) is
// written by Better Auth under those names. Used by naming_test.go, which
// then serves the same database with our storage adapter and the matching
// storage.Naming.
//
//   node ba-naming.mjs snake  <url> <schema> <secret> <baseURL>
//   node ba-naming.mjs plural <url> <schema> <secret> <baseURL>
//
// snake: every camelCase field of Better Auth's tables gets a snake_case
// column through the `fields` option of its model (the names Drizzle's
// casing: "snake_case" gives: its toSnakeCase), with the default table
// names; Better Auth migrates and serves with those options.
// plural: the adapter's usePlural. Better Auth's own migration ignores
// usePlural (getMigrations resolves names with usePlural: false), so the
// tables are created by getMigrations under the plural modelNames
// ("users", …) and the user is then signed up through
// kyselyAdapter(db, { type: "postgres", usePlural: true }) with the
// default model names, as a Drizzle or Kysely deployment with usePlural
// runs. Better Auth's schema check compares that adapter's expectations
// with the tables before it writes.
//
// better-auth and its dependencies are those of tests/compat (its
// package-lock.json pins them); <schema> must exist.
//
// Prints one JSON object on stdout, as ba-migrate.mjs does, plus the
// naming it used in storage.Naming's JSON form.

import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BA, HERE as COMPAT, loadBetterAuth, versions } from "../compat/harness.mjs";

const [mode, url, schema, secret, baseURL] = process.argv.slice(2);
if (!["snake", "plural"].includes(mode) || !url || !schema || !secret || !baseURL) {
  console.error("usage: node ba-naming.mjs snake|plural <url> <schema> <secret> <baseURL>");
  process.exit(2);
}
if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${schema}`);

await loadBetterAuth();
const { betterAuth } = BA;
// Modules resolved from tests/compat, whose lockfile pins them.
const requireCompat = createRequire(join(COMPAT, "package.json"));
const load = (name) => import(pathToFileURL(requireCompat.resolve(name)).href);
const { getMigrations } = await load("better-auth/db/migration");
const { getAuthTables } = await load("@better-auth/core/db");
const { kyselyAdapter } = await load("@better-auth/kysely-adapter");
const { Kysely, PostgresDialect } = await load("kysely");
const { default: pg } = await load("pg");

// Drizzle's toSnakeCase (drizzle-orm/casing).
const snake = (name) =>
  (name.replace(/['\u2019]/g, "").match(/[\da-z]+|[A-Z]+(?![a-z])|[A-Z][\da-z]+/g) ?? [])
    .map((w) => w.toLowerCase()).join("_");

const pool = new pg.Pool({ connectionString: url, options: `-c search_path=${schema}`, max: 2 });
const base = {
  secret,
  baseURL,
  emailAndPassword: { enabled: true },
  logger: { disabled: true },
  telemetry: { enabled: false },
};

try {
  const tables = getAuthTables(base); // user, session, account, verification
  let migrateOptions;
  let serveOptions;
  let naming;
  if (mode === "snake") {
    const models = {};
    const fields = {};
    for (const [model, t] of Object.entries(tables)) {
      const m = {};
      for (const f of Object.keys(t.fields)) if (snake(f) !== f) m[f] = snake(f);
      models[model] = { fields: m };
      fields[model] = m;
    }
    migrateOptions = serveOptions = { ...base, ...models, database: pool };
    naming = { fields };
  } else {
    const models = {};
    for (const model of Object.keys(tables)) models[model] = { modelName: `${model}s` };
    migrateOptions = { ...base, ...models, database: pool };
    const db = new Kysely({ dialect: new PostgresDialect({ pool }) });
    serveOptions = { ...base, database: kyselyAdapter(db, { type: "postgres", usePlural: true }) };
    naming = { plural: true };
  }

  const migration = await getMigrations(migrateOptions);
  const migrationSQL = await migration.compileMigrations();
  await migration.runMigrations();
  const again = await getMigrations(migrateOptions);
  if (again.toBeCreated.length || again.toBeAdded.length) {
    throw new Error("Better Auth's migration is not idempotent: " + await again.compileMigrations());
  }

  const auth = betterAuth(serveOptions);
  const email = `ba-${mode}-${Date.now()}@example.com`;
  const password = "correct horse battery staple";
  const name = "Better Auth User";
  const res = await auth.api.signUpEmail({
    body: { email, password, name },
    headers: new Headers({ origin: baseURL }),
    returnHeaders: true,
  });
  const cookieName = "better-auth.session_token";
  const line = res.headers.getSetCookie().find((c) => c.startsWith(cookieName + "="));
  if (!line) throw new Error("sign-up set no session cookie");
  const cookieValue = line.slice(cookieName.length + 1).split(";")[0];
  const session = await auth.api.getSession({ headers: new Headers({ cookie: `${cookieName}=${cookieValue}` }) });
  if (!session || session.user.email !== email) throw new Error("Better Auth cannot read its own session");
  const ctx = await auth.$context;
  const accounts = await ctx.internalAdapter.findAccountByUserId(session.user.id);
  const credential = accounts.find((a) => a.providerId === "credential");

  console.log(JSON.stringify({
    versions: versions(),
    mode,
    naming,
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
  await pool.end();
}
