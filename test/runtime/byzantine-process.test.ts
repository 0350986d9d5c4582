/**
 * A Byzantine actor process against a real learner over real NATS + Redis: a learner, two honest
 * actors and one `fedrl actor --byzantine inflated` (finite weights with norm ×1e6). The global
 * model must stay finite and the attacker must get weight 0 in every round it takes part in.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { NatsBus } from "../../transport/bus-nats";
import { decodeGlobal } from "../../transport/codec";
import { spawnComponent } from "../../launch/multiprocess";
import { replayKeys } from "../../transport/replay-redis";
import { subjectsFor } from "../../transport/subjects";
import { NATS_URL, REDIS_URL, uid } from "./bus.contract";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));

describe("a Byzantine actor process against a real learner (NATS + Redis)", function () {
  this.timeout(120_000);
  const run = `byz${uid()}`;
  const dir = mkdtempSync(join(tmpdir(), "fedrl-byz-"));
  const cfg = join(dir, "exp.yaml");
  writeFileSync(cfg, `
run: ${run}
mode: hybrid
seed: 4
runDir: ${join(dir, "run")}
env: { id: CartPole-v1 }
agent: { lr: 0.001, learningStarts: 300 }
actors: { count: 3, batchSteps: 100, batchMs: 300, weights: { ms: 800 } }
learner: { tick: { ms: 200 }, updatesPerTick: 20, publish: { ms: 500 }, warmup: 300, replay: { capacity: 20000 } }
aggregator: { interval: { ms: 1500 }, staleAfter: { ms: 10000 }, rule: trust }
budget: { seconds: 12 }
eval: { episodes: 0 }
`);
  const env = { ...process.env, NATS_URL, REDIS_URL, FEDRL_CHILD: "1" };
  const children: ChildProcess[] = [];
  let redis: Redis;
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    const k = replayKeys(run);
    await redis.del(k.data, k.cursor, k.meta);
    redis.disconnect();
  });

  it("keeps the global model finite and gives the inflated attacker weight 0 in every round", async () => {
    redis = new Redis(REDIS_URL);
    const logs: string[] = [];
    const spawn = (args: string[], tag: string) => {
      const c = spawnComponent([...args, "--config", cfg], env, tag, (l) => void logs.push(l));
      children.push(c);
      return c;
    };
    const learner = spawn(["learner"], "learner");
    for (let i = 0; i < 150 && !logs.some((l) => /learner up:/.test(l)); i++) await sleep(100);
    expect(logs.some((l) => /learner up:/.test(l)), logs.slice(-10).join("\n")).to.equal(true);
    const actors = [spawn(["actor", "--id", "actor-0"], "actor-0"), spawn(["actor", "--id", "actor-1"], "actor-1"), spawn(["actor", "--id", "actor-2", "--byzantine", "inflated"], "actor-2")];
    for (const a of actors) expect(await exited(a)).to.equal(0);
    await sleep(2000); // the last uploads reach a round
    learner.kill("SIGINT");
    expect(await exited(learner)).to.equal(0);
    expect(logs.some((l) => /actor-2: Byzantine actor, attack inflated/.test(l))).to.equal(true);

    const bus = await NatsBus.connect({ url: NATS_URL });
    const g = decodeGlobal((await (await bus.lastValues(subjectsFor(run).bucket)).get("global"))!);
    await bus.close();
    expect(g.version).to.be.greaterThan(0);
    expect(g.params.every(Number.isFinite)).to.equal(true);
    expect(Math.max(...g.params.map(Math.abs))).to.be.lessThan(1e3);

    const events = readFileSync(join(dir, "run", "learner.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const rounds = events.filter((e) => e.event === "aggregation");
    const judged = rounds.flatMap((r) => (r.clients as { actor: string; weight: number; used: boolean; reason?: string }[]).filter((c) => c.actor === "actor-2" && c.reason !== "stale"));
    expect(judged.length).to.be.at.least(2);
    for (const c of judged) expect(c).to.deep.include({ weight: 0, used: false, reason: "norm_bound" });
    const honest = rounds.flatMap((r) => (r.clients as { actor: string; used: boolean }[]).filter((c) => c.actor !== "actor-2" && c.used));
    expect(honest.length).to.be.at.least(2);
    expect(rounds.some((r) => r.changed)).to.equal(true);
    const stats = events.filter((e) => e.event === "learner").at(-1)!;
    expect(stats.rejected.byReason.norm_bound).to.be.at.least(judged.length);
    expect(stats.rejected.bySource["actor-2"]).to.be.at.least(judged.length);
  });
});
