import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = { ...process.env, NATS_URL: "", REDIS_URL: "" };
const fedrl = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [join(process.cwd(), "bin/fedrl.mjs"), ...args], { encoding: "utf8", env, cwd });
/** Metrics lines without their wall-clock time stamp. */
const metrics = (dir: string, file: string) => readFileSync(join(dir, file), "utf8").trim().split("\n").map((l) => { const { t: _t, ...rest } = JSON.parse(l); return rest; });
const bytes = (p: string) => readFileSync(p).toString("base64");
const summary = (dir: string) => JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));

/**
 * The embedded run of the federated recipes (step clock, in-process bus, memory replay): stopped at
 * N steps per actor and resumed to 2N, it equals the uninterrupted 2N run. N = 1500 stops mid-batch
 * (batchSteps 200: unshipped rows), on a learner tick (owed clock advance) and between rounds;
 * periodic checkpoints every 700 steps fall elsewhere in each run.
 */
for (const mode of ["hybrid", "fedavg"] as const) {
  describe(`--resume of an embedded ${mode} run`, function () {
    this.timeout(120_000);
    const root = mkdtempSync(join(tmpdir(), `fedrl-resume-${mode}-`));
    const sets = [
      "--config", join(process.cwd(), `configs/cartpole-${mode}.yaml`), "--set", "clock=steps", "--set", "eval.episodes=3",
      "--set", "actors.weights.steps=500", "--set", "learner.publish.steps=500", "--set", "aggregator.interval.steps=1000", "--set", "learner.checkpoint.steps=700",
    ];

    it(`N steps, stop, resume to 2N equals the uninterrupted 2N run (returns, global model, ${mode === "hybrid" ? "learner, replay, gate, " : ""}aggregation, eval)`, () => {
      const full = fedrl(root, "run", ...sets, "--set", "budget.stepsPerActor=3000", "--set", "runDir=full");
      expect(full.status, full.stderr).to.equal(0);
      const half = fedrl(root, "run", ...sets, "--set", "budget.stepsPerActor=1500", "--set", "runDir=half");
      expect(half.status, half.stderr).to.equal(0);
      const rest = fedrl(root, "run", "--resume", "half", "--set", "budget.stepsPerActor=3000");
      expect(rest.status, rest.stderr).to.equal(0);
      expect(rest.stderr).to.match(/resumed .* at 1500 steps per actor/);
      expect(rest.stderr).not.to.match(/not bit for bit/);
      const [f, h] = [join(root, "full"), join(root, "half")];
      const sf = summary(f), sh = summary(h);
      for (const k of ["eval", "curve", "reached", "globalModel", "aggregation", "replayByActor"]) expect(sh[k], k).to.deep.equal(sf[k]);
      // (published / publishedBytes are the server link's counters of this process, not restored.)
      expect([sh.server.rounds, sh.server.version]).to.deep.equal([sf.server.rounds, sf.server.version]);
      expect(sf.server.rounds).to.be.greaterThan(1);
      const per = (s: { actors: Record<string, unknown>[] }) => s.actors.map(({ id, steps, episodes, lastReturns, returns, globalVersion, mean100 }) => ({ id, steps, episodes, lastReturns, returns, globalVersion, mean100 }));
      expect(per(sh)).to.deep.equal(per(sf));
      if (mode === "hybrid") {
        const learner = (s: { learner: Record<string, unknown> }) => {
          const { rssMB: _r, ingestMs: _i, receivedBytes: _b, duplicates: _d, ...rest } = s.learner;
          return rest;
        };
        expect(learner(sh)).to.deep.equal(learner(sf));
        expect(sf.learner.updates).to.be.greaterThan(0);
        expect(sf.learner.filter.references).to.be.greaterThan(32); // the filter draws from its reservoir
      }
      for (const i of [0, 1, 2]) {
        expect(metrics(h, `actor-${i}.jsonl`), `actor-${i}.jsonl`).to.deep.equal(metrics(f, `actor-${i}.jsonl`));
        for (const file of ["weights.bin", "target.bin", "adam_m.bin", "replay.bin"]) expect(bytes(join(h, `actor-${i}-checkpoint`, file)), `actor-${i} ${file}`).to.equal(bytes(join(f, `actor-${i}-checkpoint`, file)));
      }
      // The server side's whole state at the end: global model (all groups), counters, replay, filter, gate, aggregation, clock.
      expect(bytes(join(h, "learner-checkpoint/server.json"))).to.equal(bytes(join(f, "learner-checkpoint/server.json")));
      if (mode === "hybrid") for (const file of ["weights.bin", "target.bin", "adam_m.bin", "adam_v.bin"]) expect(bytes(join(h, "learner-checkpoint/model", file)), file).to.equal(bytes(join(f, "learner-checkpoint/model", file)));
      const agg = (d: string) => metrics(d, "aggregator.jsonl");
      if (mode === "fedavg") expect(agg(h)).to.deep.equal(agg(f));
    });
  });
}
