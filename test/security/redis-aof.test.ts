/**
 * Redis persistence as compose runs it (issue #13): AOF with appendfsync everysec on a volume. A
 * kill -9 of Redis loses at most ~1 s of acknowledged inserts; here everything acknowledged more
 * than 2 s before the kill survives. Own redis-server on a spare loopback port, killed by PID.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { connectRedis } from "../../transport/open";
import { RedisReplay } from "../../transport/replay-redis";
import { allocBatch } from "../../core/batch";
import { startRedis, type OwnRedis } from "./redis-server";

describe("Redis with AOF (appendfsync everysec), as in docker-compose.yml", function () {
  this.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), "fedrl-redis-aof-"));
  const servers: OwnRedis[] = [];
  after(async () => {
    for (const s of servers) await s.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("compose runs Redis with appendonly yes, appendfsync everysec, its dir on a named volume, RDB snapshots off", () => {
    const c = parse(readFileSync("docker-compose.yml", "utf8")) as { services: Record<string, { command: string[]; volumes?: string[] }>; volumes: Record<string, unknown> };
    const cmd = c.services.redis!.command;
    const opt = (k: string) => cmd[cmd.lastIndexOf(k) + 1];
    expect(opt("--appendonly")).to.equal("yes");
    expect(opt("--appendfsync")).to.equal("everysec");
    expect(opt("--dir")).to.equal("/data");
    expect(opt("--save")).to.equal("");
    expect(c.services.redis!.volumes).to.deep.equal(["redis:/data"]);
    expect(c.volumes).to.have.property("redis");
  });

  it("kill -9 of Redis: the replay comes back with every insert acknowledged more than 2 s before the kill", async () => {
    const aof = ["--appendonly", "yes", "--appendfsync", "everysec"];
    const r1 = await startRedis((p) => ["--port", String(p)], aof, dir);
    servers.push(r1);
    const c1 = await connectRedis(`redis://127.0.0.1:${r1.port}`, { log: () => {} }, {});
    const replay = await RedisReplay.open(c1, { run: "aof", capacity: 100_000, obsDim: 4, seed: 1 });
    const b = allocBatch(500, 4);
    for (let i = 0; i < 500 * 4; i++) b.obs[i] = b.nextObs[i] = i / 1000;
    for (let i = 0; i < 40; i++) await replay.insert(b);
    expect(await replay.size()).to.equal(20_000);
    await new Promise((res) => setTimeout(res, 2500)); // > the 1 s fsync window
    await r1.kill("SIGKILL");
    c1.disconnect();
    const r2 = await startRedis((p) => ["--port", String(p)], aof, dir);
    servers.push(r2);
    const c2 = await connectRedis(`redis://127.0.0.1:${r2.port}`, { log: () => {} }, {});
    try {
      const back = await RedisReplay.open(c2, { run: "aof", capacity: 100_000, obsDim: 4, seed: 1 });
      expect(await back.size()).to.equal(20_000);
      expect((await back.sample(16)).n).to.equal(16);
    } finally {
      c2.disconnect();
      await r2.kill("SIGTERM");
    }
  });
});
