// Drives a server's organization routes with Better Auth's own JS client
// (createAuthClient + organizationClient from "better-auth/client/plugins"),
// as two users in two cookie jars: create, invite, accept as the second
// user, list members with roles, update a role, has-permission, remove.
//
//   node org-client.mjs http://127.0.0.1:8080        (or BASE_URL=...)
//
// The server must serve Better Auth's routes under <baseURL>/api/auth and,
// for the test, GET <baseURL>/__test/mail?to=<email> answering the last
// invitation email sent to that address as JSON {url, data}.
//
// Prints one line per check and finally "N passed, M failed"; exits 1 on
// any failure.

import { createAuthClient } from "better-auth/client";
import { organizationClient } from "better-auth/client/plugins";
import { harness, Jar } from "./lib.mjs";

const baseURL = process.argv[2] || process.env.BASE_URL;
if (!baseURL) {
  console.error("usage: node org-client.mjs <baseURL>");
  process.exit(2);
}
const { makeFetch, check, summary } = harness(baseURL);

function makeClient(label) {
  const customFetchImpl = makeFetch(new Jar(), label);
  return createAuthClient({ baseURL, plugins: [organizationClient()], fetchOptions: { customFetchImpl } });
}

const isDate = (v) => v instanceof Date && !isNaN(v.getTime());
const uniq = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const password = "org-client-password-123";
const alice = makeClient("alice");
const bob = makeClient("bob");
const aliceEmail = `alice.${uniq}@example.com`;
const bobEmail = `bob.${uniq}@example.com`;
const slug = `acme-${uniq}`;
let orgId;
let invitationId;
let bobMemberId;

await check("sign up both users", async (expect) => {
  const a = await alice.signUp.email({ name: "Alice", email: aliceEmail, password });
  const b = await bob.signUp.email({ name: "Bob", email: bobEmail, password });
  expect(a.error === null && b.error === null, "no errors", [a.error, b.error]);
});

await check("create organization", async (expect) => {
  const { data, error } = await alice.organization.create({ name: "Acme", slug });
  expect(error === null, "error is null", error);
  orgId = data?.id;
  expect(typeof orgId === "string" && orgId.length > 0, "data.id", data);
  expect(data?.slug === slug && data?.name === "Acme", "name and slug", data);
  expect(isDate(data?.createdAt), "createdAt is a Date", data?.createdAt);
  expect(data?.members?.length === 1 && data.members[0].role === "owner", "members = [owner]", data?.members);
  const s = await alice.getSession();
  expect(s.data?.session?.activeOrganizationId === orgId, "session.activeOrganizationId", s.data?.session);
});

await check("check-slug of a taken slug", async (expect) => {
  const { data, error } = await alice.organization.checkSlug({ slug });
  expect(data === null, "data is null", data);
  expect(error?.status === 400 && error?.code === "ORGANIZATION_SLUG_ALREADY_TAKEN", "400 ORGANIZATION_SLUG_ALREADY_TAKEN", error);
});

await check("list organizations", async (expect) => {
  const { data, error } = await alice.organization.list();
  expect(error === null, "error is null", error);
  expect(Array.isArray(data) && data.some((o) => o.id === orgId), "contains the organization", data);
});

await check("invite bob as admin (emailed)", async (expect) => {
  const { data, error } = await alice.organization.inviteMember({ email: bobEmail, role: "admin" });
  expect(error === null, "error is null", error);
  invitationId = data?.id;
  expect(data?.status === "pending" && data?.role === "admin" && data?.email === bobEmail, "pending admin invitation", data);
  expect(data?.organizationId === orgId, "organizationId", data?.organizationId);
  expect(isDate(data?.expiresAt), "expiresAt is a Date", data?.expiresAt);
  const res = await fetch(`${baseURL}/__test/mail?to=${encodeURIComponent(bobEmail)}`);
  expect(res.status === 200, "mail captured", res.status);
  const mail = res.status === 200 ? await res.json() : {};
  expect(typeof mail.url === "string" && mail.url.endsWith(`/accept-invitation/${invitationId}`), "mail links to the invitation", mail);
  expect(mail.data?.organization === "Acme" && mail.data?.inviter === "Alice", "mail names organization and inviter", mail.data);
});

await check("re-invite is refused", async (expect) => {
  const { error } = await alice.organization.inviteMember({ email: bobEmail, role: "admin" });
  expect(error?.status === 400 && error?.code === "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION", "400 USER_IS_ALREADY_INVITED", error);
});

await check("bob reads the invitation", async (expect) => {
  const { data, error } = await bob.organization.getInvitation({ query: { id: invitationId } });
  expect(error === null, "error is null", error);
  expect(data?.organizationName === "Acme" && data?.organizationSlug === slug && data?.inviterEmail === aliceEmail, "details", data);
});

await check("alice cannot accept bob's invitation", async (expect) => {
  const { error } = await alice.organization.acceptInvitation({ invitationId });
  expect(error?.status === 403 && error?.code === "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION", "403 not recipient", error);
});

await check("bob accepts", async (expect) => {
  const { data, error } = await bob.organization.acceptInvitation({ invitationId });
  expect(error === null, "error is null", error);
  expect(data?.invitation?.status === "accepted", "invitation accepted", data?.invitation);
  expect(data?.member?.role === "admin" && data?.member?.organizationId === orgId, "admin member", data?.member);
  bobMemberId = data?.member?.id;
  const s = await bob.getSession();
  expect(s.data?.session?.activeOrganizationId === orgId, "bob's active organization", s.data?.session);
});

await check("accepting again is refused", async (expect) => {
  const { error } = await bob.organization.acceptInvitation({ invitationId });
  expect(error?.status === 400 && error?.code === "INVITATION_NOT_FOUND", "400 INVITATION_NOT_FOUND", error);
});

await check("list members with roles", async (expect) => {
  const { data, error } = await alice.organization.listMembers({ query: { organizationId: orgId } });
  expect(error === null, "error is null", error);
  const roles = Object.fromEntries((data?.members || []).map((m) => [m.user?.email, m.role]));
  expect(roles[aliceEmail] === "owner" && roles[bobEmail] === "admin", "alice owner, bob admin", roles);
  expect(data?.total === 2, "total 2", data?.total);
  expect((data?.members || []).every((m) => isDate(m.createdAt)), "createdAt Dates", data?.members);
});

await check("full organization", async (expect) => {
  const { data, error } = await bob.organization.getFullOrganization();
  expect(error === null, "error is null", error);
  expect(data?.id === orgId && data?.members?.length === 2, "two members", data);
  expect(Array.isArray(data?.invitations), "invitations array", data?.invitations);
});

await check("active member", async (expect) => {
  const { data, error } = await bob.organization.getActiveMember();
  expect(error === null, "error is null", error);
  expect(data?.role === "admin" && data?.user?.email === bobEmail, "bob admin", data);
});

await check("has-permission", async (expect) => {
  const a = await alice.organization.hasPermission({ permissions: { organization: ["delete"] } });
  const b = await bob.organization.hasPermission({ permissions: { organization: ["delete"] } });
  const c = await bob.organization.hasPermission({ permissions: { member: ["create", "delete"] } });
  expect(a.error === null && a.data?.success === true && a.data?.error === null, "owner may delete", a);
  expect(b.error === null && b.data?.success === false, "admin may not delete", b);
  expect(c.error === null && c.data?.success === true, "admin manages members", c);
  const local = bob.organization.checkRolePermission({ role: "admin", permissions: { organization: ["delete"] } });
  expect(local === b.data?.success, "client-side check agrees", local);
});

await check("admin cannot promote to owner", async (expect) => {
  const { error } = await bob.organization.updateMemberRole({ memberId: bobMemberId, role: "owner" });
  expect(error?.status === 403 && error?.code === "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER", "403", error);
});

await check("update member role", async (expect) => {
  const { data, error } = await alice.organization.updateMemberRole({ memberId: bobMemberId, role: "member" });
  expect(error === null, "error is null", error);
  expect(data?.id === bobMemberId && data?.role === "member", "bare member with the new role", data);
  const r = await bob.organization.getActiveMemberRole();
  expect(r.data?.role === "member", "bob's role is member", r.data);
});

await check("unknown role is refused", async (expect) => {
  const { error } = await alice.organization.updateMemberRole({ memberId: bobMemberId, role: "superuser" });
  expect(error?.status === 400 && error?.code === "ROLE_NOT_FOUND", "400 ROLE_NOT_FOUND", error);
});

await check("member may not invite", async (expect) => {
  const { error } = await bob.organization.inviteMember({ email: `carol.${uniq}@example.com`, role: "member" });
  expect(error?.status === 403 && error?.code === "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION", "403", error);
});

await check("last owner cannot leave", async (expect) => {
  const { error } = await alice.organization.leave({ organizationId: orgId });
  expect(error?.status === 400 && error?.code === "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER", "400", error);
});

await check("remove member", async (expect) => {
  const { data, error } = await alice.organization.removeMember({ memberIdOrEmail: bobEmail });
  expect(error === null, "error is null", error);
  expect(data?.member?.id === bobMemberId, "removed member", data);
  const l = await bob.organization.list();
  expect(Array.isArray(l.data) && l.data.length === 0, "bob has no organizations", l.data);
  const m = await alice.organization.listMembers({ query: { organizationId: orgId } });
  expect(m.data?.total === 1, "one member left", m.data);
});

await check("removed member can no longer read the organization", async (expect) => {
  const { data, error } = await bob.organization.getFullOrganization({ query: { organizationId: orgId } });
  expect(data === null, "data is null", data);
  expect(error?.status >= 400 && error?.status < 500, "4xx", error);
});

await check("set-active null and delete", async (expect) => {
  const n = await alice.organization.setActive({ organizationId: null });
  expect(n.error === null && n.data === null, "set-active null", n);
  const { data, error } = await alice.organization.delete({ organizationId: orgId });
  expect(error === null, "error is null", error);
  expect(data?.id === orgId, "deleted organization", data);
  const l = await alice.organization.list();
  expect(Array.isArray(l.data) && l.data.length === 0, "no organizations", l.data);
});

summary();
