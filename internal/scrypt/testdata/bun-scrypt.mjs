// Times node:crypto's scryptSync at Better Auth's parameters (N=16384,
// r=16, p=1, 64-byte key, as Better Auth's hashPassword calls it) under
// Bun (BoringSSL) or Node (OpenSSL): after two warm-up hashes, `count`
// hashes (argument 1, default 20) one after the other, then prints
// "<runtime> <wall ms per hash> <CPU ms per hash>" (CPU: the process's
// user and system time). compare-bun.sh runs it beside the Go benchmarks.
import crypto from "node:crypto";

const count = Number(process.argv[2] ?? 20);
const password = "password-123";
const salt = "cb467e7f0070180a3332022c1abb8d75";
const opts = { N: 16384, r: 16, p: 1, maxmem: 64 << 20 };

for (let i = 0; i < 2; i++) crypto.scryptSync(password, salt, 64, opts);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < count; i++) crypto.scryptSync(password, salt, 64, opts);
const wall = (performance.now() - t0) / count;
const cpu = process.cpuUsage(cpu0);
const runtime = typeof Bun !== "undefined" ? "bun" : "node";
console.log(`${runtime} ${wall.toFixed(3)} ${((cpu.user + cpu.system) / 1000 / count).toFixed(3)}`);
