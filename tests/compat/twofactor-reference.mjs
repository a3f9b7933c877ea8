// Serves real Better Auth with its two-factor plugin (memory adapter) over
// HTTP on 127.0.0.1, for checking twofactor.mjs itself.
//
//   node twofactor-reference.mjs [port]      (default: a free port)
//
// Prints "listening <baseURL>" once ready. Rate limiting is off (it is
// only on in production anyway).

import { createServer } from "node:http";
import { loadBetterAuth, newDB, SECRET } from "./harness.mjs";

const { betterAuth, memoryAdapter } = await loadBetterAuth();
const { twoFactor } = await import("better-auth/plugins");
const { toNodeHandler } = await import("better-auth/node");

let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));
server.listen(Number(process.argv[2] || process.env.PORT || 0), "127.0.0.1", () => {
  const baseURL = `http://127.0.0.1:${server.address().port}`;
  const auth = betterAuth({
    database: memoryAdapter({ ...newDB(), twoFactor: [] }),
    secret: SECRET,
    baseURL,
    emailAndPassword: { enabled: true },
    plugins: [twoFactor()],
    rateLimit: { enabled: false },
    logger: { disabled: true },
  });
  handler = toNodeHandler(auth);
  console.log(`listening ${baseURL}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
