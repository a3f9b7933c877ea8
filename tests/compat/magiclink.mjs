// Magic-link sign-in with Better Auth's magicLinkClient against our server.
//
//   BASE_URL=http://127.0.0.1:port node magiclink.mjs
//
// The Go test (magiclink_test.go) runs a real SMTP listener and serves the
// last link mailed to an address at GET <base>/__mail/last?to=<email>.

import { createAuthClient } from "better-auth/client";
import { magicLinkClient } from "better-auth/client/plugins";
import { harness } from "./lib.mjs";

const baseURL = process.env.BASE_URL;
const { jar, jarFetch, check, summary } = harness(baseURL);
const client = createAuthClient({ baseURL, plugins: [magicLinkClient()], fetchOptions: { customFetchImpl: jarFetch } });
const email = `magic.${Date.now().toString(36)}@example.com`;
let link;

async function lastLink(to) {
  const res = await fetch(`${baseURL}/__mail/last?to=${encodeURIComponent(to)}`);
  return res.ok ? (await res.json()).url : null;
}

await check("request a magic link", async (expect) => {
  const { data, error } = await client.signIn.magicLink({ email, callbackURL: "/dashboard" });
  expect(error === null, "error is null", error);
  expect(data?.status === true, "data.status === true", data);
  link = await lastLink(email);
  expect(typeof link === "string" && link.includes("/api/auth/magic-link/verify?token="), "a link arrived over SMTP", link);
});

await check("the link signs the user in and redirects", async (expect) => {
  const res = await jarFetch(link);
  expect(res.status === 302, "302", res.status);
  expect(res.headers.get("location") === new URL("/dashboard", baseURL).href, "redirect to the callback", res.headers.get("location"));
  const { data } = await client.getSession();
  expect(data?.user?.email === email, "session user is the email", data?.user);
  expect(data?.user?.emailVerified === true, "email verified by the link", data?.user?.emailVerified);
});

await check("the link works once", async (expect) => {
  jar.clear();
  const res = await jarFetch(link);
  expect(res.status === 302, "302", res.status);
  expect((res.headers.get("location") || "").includes("error=INVALID_TOKEN"), "error=INVALID_TOKEN", res.headers.get("location"));
  const { data } = await client.getSession();
  expect(data === null, "no session", data);
});

summary();
