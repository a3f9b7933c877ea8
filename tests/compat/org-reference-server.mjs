// Serves real Better Auth with its organization plugin (memory adapter) over
// HTTP on 127.0.0.1, for checking org-client.mjs itself: the same script
// must pass against it and against our server.
//
//   node org-reference-server.mjs [port]      (default: a free port)
//
// Prints "listening <baseURL>" once ready. Invitation emails are captured
// and served at GET /__test/mail?to=<email> as {url, data}, as the Go test
// server does.

import { createServer } from "node:http";
import { loadBetterAuth, newDB, SECRET } from "./harness.mjs";

const { betterAuth, memoryAdapter } = await loadBetterAuth();
const { toNodeHandler } = await import("better-auth/node");
const { organization } = await import("better-auth/plugins");

const mails = new Map(); // email -> {url, data}
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => {
  const u = new URL(req.url, "http://x");
  if (u.pathname === "/__test/mail") {
    const m = mails.get(u.searchParams.get("to"));
    res.statusCode = m ? 200 : 404;
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(m ?? null));
    return;
  }
  handler(req, res);
});
server.listen(Number(process.argv[2] || process.env.PORT || 0), "127.0.0.1", () => {
  const baseURL = `http://127.0.0.1:${server.address().port}`;
  const auth = betterAuth({
    database: memoryAdapter({ ...newDB(), organization: [], member: [], invitation: [] }),
    secret: SECRET,
    baseURL,
    emailAndPassword: { enabled: true },
    rateLimit: { enabled: false },
    plugins: [
      organization({
        async sendInvitationEmail(d) {
          mails.set(d.email, {
            url: `${baseURL}/accept-invitation/${d.id}`,
            data: { organization: d.organization.name, inviter: d.inviter.user.name },
          });
        },
      }),
    ],
    logger: { disabled: true },
  });
  handler = toNodeHandler(auth);
  console.log(`listening ${baseURL}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
