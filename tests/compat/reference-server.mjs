// Serves real Better Auth (memory adapter, bearer plugin) over HTTP on
// 127.0.0.1, for checking client.mjs itself and for diffing by hand.
//
//   node reference-server.mjs [port]      (default: a free port)
//
// Prints "listening <baseURL>" once ready. NODE_ENV is forced to
// "development" so the origin checks are active.

import { createServer } from "node:http";
import { loadBetterAuth, newDB, SECRET } from "./harness.mjs";

const { betterAuth, memoryAdapter, bearer } = await loadBetterAuth();
const { toNodeHandler } = await import("better-auth/node");

let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));
server.listen(Number(process.argv[2] || process.env.PORT || 0), "127.0.0.1", () => {
  const baseURL = `http://127.0.0.1:${server.address().port}`;
  const auth = betterAuth({
    database: memoryAdapter(newDB()),
    secret: SECRET,
    baseURL,
    emailAndPassword: { enabled: true },
    user: { deleteUser: { enabled: true } },
    plugins: [bearer()],
    logger: { disabled: true },
  });
  handler = toNodeHandler(auth);
  console.log(`listening ${baseURL}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
