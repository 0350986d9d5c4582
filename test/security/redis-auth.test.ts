/**
 * Redis (issue #13): per-role ACL users from `fedrl auth init` (the learner reads/writes only its
 * run's keys), TLS with a private CA (REDIS_CA), connection errors as one clear line (no ioredis
 * "Unhandled error event" stacks). Own redis-server instances on spare loopback ports, killed by PID.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authInit } from "../../launch/auth";
import { connectRedis, redactRedisUrl } from "../../transport/open";
import { RedisReplay } from "../../transport/replay-redis";
import { allocBatch } from "../../core/batch";
import { startRedis, type OwnRedis } from "./redis-server";
import { sparePort } from "./nats-server";

function batch(n: number) {
  const b = allocBatch(n, 3);
  for (let i = 0; i < n * 3; i++) b.obs[i] = b.nextObs[i] = i / 7;
  return b;
}

/** Captures what ioredis (or anything) writes to stderr / console.error while `fn` runs. */
async function stderrOf(fn: () => Promise<void>): Promise<string> {
  const out: string[] = [];
  const w = process.stderr.write.bind(process.stderr);
  const ce = console.error;
  process.stderr.write = ((c: string | Uint8Array) => (out.push(String(c)), true)) as typeof process.stderr.write;
  console.error = (...a: unknown[]) => void out.push(a.map(String).join(" "));
  try {
    await fn();
  } finally {
    process.stderr.write = w;
    console.error = ce;
  }
  return out.join("");
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    const r = await p;
    (r as { disconnect?: () => void })?.disconnect?.();
  } catch (e) {
    return (e as Error).message;
  }
  return "(no error)";
}

describe("Redis ACL users from fedrl auth init (own redis-server with the generated aclfile)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "fedrl-redis-acl-"));
  let redis: OwnRedis;
  let url: string;
  let learnerPw: string;
  let adminPw: string;
  before(async () => {
    const r = authInit({ run: "aclrun", actors: 2, out: join(dir, "auth") });
    learnerPw = readFileSync(join(dir, "auth", "learner.redis-password"), "utf8").trim();
    adminPw = readFileSync(join(dir, "auth", "admin.redis-password"), "utf8").trim();
    redis = await startRedis((p) => ["--port", String(p)], ["--aclfile", r.redisAcl]);
    url = `redis://127.0.0.1:${redis.port}`;
  });
  after(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the learner user runs its replay (open, insert, sample, clear) on its run's keys", async () => {
    const c = await connectRedis(url, { username: "learner", password: learnerPw }, {});
    try {
      const replay = await RedisReplay.open(c, { run: "aclrun", capacity: 100, obsDim: 3, seed: 1 });
      await replay.clear();
      expect(await replay.insert(batch(30))).to.be.a("number");
      expect(await replay.size()).to.equal(30);
      expect((await replay.sample(8)).n).to.equal(8);
      await replay.clear();
      expect(await replay.size()).to.equal(0);
    } finally {
      c.disconnect();
    }
  });

  it("the learner user cannot touch another run's keys nor run admin commands (NOPERM)", async () => {
    const c = await connectRedis(url, { username: "learner", password: learnerPw }, {});
    try {
      expect(await failure(RedisReplay.open(c, { run: "otherrun", capacity: 100, obsDim: 3 }))).to.match(/NOPERM/);
      expect(await failure(c.set("unrelated", "x"))).to.match(/NOPERM/);
      expect(await failure(c.flushall())).to.match(/NOPERM/);
      expect(await failure(c.call("CONFIG", "SET", "appendonly", "no"))).to.match(/NOPERM/);
      expect(await failure(c.keys("*"))).to.match(/NOPERM/);
      // Lua cannot reach around the key rules either
      expect(await failure(c.eval("return redis.call('SET', KEYS[1], 'x')", 1, "fedrl:{otherrun}:replay:cursor"))).to.match(/NOPERM|No permissions/i);
    } finally {
      c.disconnect();
    }
  });

  it("no anonymous connection (the default user is off); a wrong password is one clear line, without the password", async () => {
    const anon = await failure(connectRedis(url, {}, {}));
    expect(anon).to.match(/^cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: .*(NOAUTH|NOPERM|WRONGPASS|Authentication required)/);
    expect(anon).to.not.include("\n");
    const wrong = await failure(connectRedis(`redis://learner:not-the-password@127.0.0.1:${redis.port}`, {}, {}));
    expect(wrong).to.match(/WRONGPASS/).and.to.not.include("not-the-password");
    expect(wrong).to.include("redis://learner:***@");
    expect(wrong).to.not.include("\n");
    // the env form
    const viaEnv = await connectRedis(url, {}, { REDIS_USER: "learner", REDIS_PASSWORD: learnerPw });
    expect(await viaEnv.ping()).to.equal("PONG");
    viaEnv.disconnect();
  });

  it("admin may do anything", async () => {
    const c = await connectRedis(url, { username: "admin", password: adminPw }, {});
    try {
      expect(await c.set("unrelated", "x")).to.equal("OK");
      expect(await c.del("unrelated")).to.equal(1);
    } finally {
      c.disconnect();
    }
  });

  it("redactRedisUrl hides passwords only", () => {
    expect(redactRedisUrl("redis://learner:pw@h:6379/0")).to.equal("redis://learner:***@h:6379/0");
    expect(redactRedisUrl("rediss://:pw@h")).to.equal("rediss://:***@h");
    expect(redactRedisUrl("redis://h:6379")).to.equal("redis://h:6379");
  });
});

describe("Redis connection errors are one line each, never ioredis's unhandled-error stacks", function () {
  this.timeout(60_000);

  it("nothing listening: one Error line, nothing on stderr", async () => {
    const port = await sparePort();
    let msg = "";
    const err = await stderrOf(async () => {
      msg = await failure(connectRedis(`redis://127.0.0.1:${port}`, { log: () => {} }, {}));
      await new Promise((r) => setTimeout(r, 300));
    });
    expect(msg).to.match(new RegExp(`^cannot connect to Redis at redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    expect(msg).to.not.include("\n");
    expect(err).to.not.match(/Unhandled error event/);
  });

  it("Redis killed under a connected client: one log line per distinct error, no stacks on stderr", async () => {
    const r = await startRedis((p) => ["--port", String(p)]);
    const lines: string[] = [];
    let client: Awaited<ReturnType<typeof connectRedis>> | undefined;
    try {
      client = await connectRedis(`redis://127.0.0.1:${r.port}`, { log: (l) => lines.push(l) }, {});
      expect(await client.ping()).to.equal("PONG");
      const err = await stderrOf(async () => {
        await r.kill("SIGKILL");
        // ioredis reconnects with backoff: let it fail a few times
        const until = Date.now() + 20_000;
        while (lines.length === 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
        await new Promise((res) => setTimeout(res, 1500));
      });
      expect(err).to.not.match(/Unhandled error event/);
      expect(lines.length).to.be.greaterThan(0);
      for (const l of lines) {
        expect(l).to.match(/^redis redis:\/\/127\.0\.0\.1:\d+: /);
        expect(l).to.not.include("\n");
      }
      expect(new Set(lines).size).to.equal(lines.length); // the same error is not repeated
    } finally {
      client?.disconnect();
      await r.stop();
    }
  });
});

describe("Redis over TLS with a private CA (REDIS_CA)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "fedrl-redis-tls-"));
  const f = (n: string) => join(dir, n);
  let redis: OwnRedis | undefined;
  after(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  before(async function () {
    const ssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    try {
      ssl(["version"]);
    } catch {
      this.skip();
    }
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    ssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=fedrl redis test CA"]);
    writeFileSync(f("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    ssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=fedrl redis"]);
    ssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"]);
    try {
      redis = await startRedis((p) => ["--port", "0", "--tls-port", String(p), "--tls-cert-file", f("server.pem"), "--tls-key-file", f("server.key"), "--tls-ca-cert-file", f("ca.pem"), "--tls-auth-clients", "no"]);
    } catch (e) {
      if (/tls|TLS/.test(String(e))) this.skip(); // a redis-server built without TLS
      throw e;
    }
  });

  it("rediss:// with REDIS_CA connects; without the CA it is one clear line; REDIS_CA with redis:// is refused", async () => {
    const url = `rediss://127.0.0.1:${redis!.port}`;
    const ok = await connectRedis(url, {}, { REDIS_CA: f("ca.pem") });
    expect(await ok.ping()).to.equal("PONG");
    const replay = await RedisReplay.open(ok, { run: "tlsrun", capacity: 10, obsDim: 3 });
    await replay.insert(batch(4));
    expect(await replay.size()).to.equal(4);
    ok.disconnect();
    let noCa = "";
    const err = await stderrOf(async () => {
      noCa = await failure(connectRedis(url, { log: () => {} }, {}));
    });
    expect(noCa).to.match(/^cannot connect to Redis at rediss:\/\/127\.0\.0\.1:\d+: .*(self.signed|certificate)/i);
    expect(noCa).to.not.include("\n");
    expect(err).to.not.match(/Unhandled error event/);
    expect(await failure(connectRedis(`redis://127.0.0.1:${redis!.port}`, {}, { REDIS_CA: f("ca.pem") }))).to.match(/REDIS_CA is set but .* is not a rediss:\/\/ URL/);
    expect(await failure(connectRedis(url, {}, { REDIS_CA: f("missing.pem") }))).to.match(/cannot read the Redis CA .*missing\.pem: ENOENT/);
  });
});
