import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseExperiment } from "../../launch/config";
import { newRun } from "../../launch/rundir";

const env = { ...process.env, NATS_URL: "", REDIS_URL: "" };
const fedrl = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [join(process.cwd(), "bin/fedrl.mjs"), ...args], { encoding: "utf8", env, cwd });
/** Metrics lines without their wall-clock time stamp. */
const metrics = (dir: string, file: string) => readFileSync(join(dir, file), "utf8").trim().split("\n").map((l) => { const { t: _t, ...rest } = JSON.parse(l); return rest; });
const bytes = (p: string) => readFileSync(p).toString("base64");

describe("checkpoints and --resume", function () {
  this.timeout(300_000);
  const root = mkdtempSync(join(tmpdir(), "fedrl-resume-"));

  it("train-local: N steps, stop, resume to 2N equals an uninterrupted 2N run bit for bit (metrics, returns, weights, optimizer)", () => {
    const cfg = join(process.cwd(), "configs/cartpole-local.yaml");
    const full = fedrl(root, "train-local", "--config", cfg, "--steps", "3000", "--run-dir", "full");
    expect(full.status, full.stderr).to.equal(0);
    const a = fedrl(root, "train-local", "--config", cfg, "--steps", "1500", "--run-dir", "part");
    expect(a.status, a.stderr).to.equal(0);
    const b = fedrl(root, "train-local", "--resume", "part", "--steps", "3000");
    expect(b.status, b.stderr).to.equal(0);
    expect(b.stderr).to.include("resuming part/");
    const f = JSON.parse(full.stdout), p = JSON.parse(b.stdout);
    for (const k of ["episodes", "steps", "updates", "finalMean", "bestMean", "eval"]) expect(p[k], k).to.deep.equal(f[k]);
    expect(metrics(join(root, "part"), "actor-0.jsonl")).to.deep.equal(metrics(join(root, "full"), "actor-0.jsonl"));
    for (const file of ["weights.bin", "target.bin", "adam_m.bin", "adam_v.bin", "replay.bin"]) expect(bytes(join(root, "part/actor-0-checkpoint", file)), file).to.equal(bytes(join(root, "full/actor-0-checkpoint", file)));
    const sf = JSON.parse(readFileSync(join(root, "full/actor-0-checkpoint/state.json"), "utf8")), sp = JSON.parse(readFileSync(join(root, "part/actor-0-checkpoint/state.json"), "utf8"));
    expect(sp).to.deep.equal(sf);
    // Finished: a resume with the same budget says so and exits 0 without touching the folder.
    const again = fedrl(root, "train-local", "--resume", "part", "--steps", "3000");
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stderr).to.match(/already finished/);
  });

  it("fedrl run (3 actors, step clock): stop at N, --resume with a 2N budget equals the uninterrupted 2N run", () => {
    const sets = ["--config", join(process.cwd(), "configs/cartpole-local.yaml"), "--set", "clock=steps", "--set", "eval.episodes=3"];
    const full = fedrl(root, "run", ...sets, "--set", "budget.stepsPerActor=2000", "--set", "runDir=run-full");
    expect(full.status, full.stderr).to.equal(0);
    const half = fedrl(root, "run", ...sets, "--set", "budget.stepsPerActor=1000", "--set", "runDir=run-half");
    expect(half.status, half.stderr).to.equal(0);
    const rest = fedrl(root, "run", "--resume", "run-half", "--set", "budget.stepsPerActor=2000");
    expect(rest.status, rest.stderr).to.equal(0);
    for (const i of [0, 1, 2]) {
      expect(metrics(join(root, "run-half"), `actor-${i}.jsonl`), `actor-${i}`).to.deep.equal(metrics(join(root, "run-full"), `actor-${i}.jsonl`));
      expect(bytes(join(root, `run-half/actor-${i}-checkpoint/weights.bin`))).to.equal(bytes(join(root, `run-full/actor-${i}-checkpoint/weights.bin`)));
    }
    const sf = JSON.parse(readFileSync(join(root, "run-full/summary.json"), "utf8")), sh = JSON.parse(readFileSync(join(root, "run-half/summary.json"), "utf8"));
    expect(sh.eval).to.deep.equal(sf.eval);
    expect(sh.curve).to.deep.equal(sf.curve);
    expect(sh.actors.map((a: { lastReturns: number[] }) => a.lastReturns)).to.deep.equal(sf.actors.map((a: { lastReturns: number[] }) => a.lastReturns));
  });

  it("runs started in the same second get -2, -3 after the full time stamp", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "fedrl-rundir-")), "r");
    const now = new Date("2026-11-24T04:05:06Z");
    const dirs = [0, 1, 2].map(() => newRun(parseExperiment({ runDir: dir }), "run", now).runDir);
    expect(dirs).to.deep.equal([dir, `${dir}-20261124-040506`, `${dir}-20261124-040506-2`]);
  });

  it("a rerun never overwrites a run folder; a finished run resumed says so and exits 0", () => {
    const args = ["run", "--config", join(process.cwd(), "configs/cartpole-hybrid.yaml"), "--set", "clock=steps", "--set", "budget.stepsPerActor=500", "--set", "eval.episodes=1"];
    const one = fedrl(root, ...args);
    const two = fedrl(root, ...args);
    expect(one.status, one.stderr).to.equal(0);
    expect(two.status, two.stderr).to.equal(0);
    const runs = readdirSync(join(root, "runs")).sort();
    expect(runs).to.have.length(2);
    for (const r of runs) {
      expect(r).to.match(/^cartpole-hybrid-\d{8}-\d{6}(-\d+)?$/);
      for (const f of ["config.json", "run.json", "summary.json", "actor-0-checkpoint", "learner-checkpoint", "run-state.json"]) expect(existsSync(join(root, "runs", r, f)), `${r}/${f}`).to.equal(true);
      expect(JSON.parse(readFileSync(join(root, "runs", r, "run.json"), "utf8")).status).to.equal("finished");
    }
    const lines = readFileSync(join(root, "runs", runs[0]!, "actor-0.jsonl"), "utf8").trim().split("\n");
    expect(lines.filter((l) => l.includes('"episode":1,'))).to.have.length(1); // not appended to by the second run
    const done = fedrl(root, "run", "--resume", join("runs", runs[0]!));
    expect(done.status, done.stderr).to.equal(0);
    expect(done.stderr).to.match(/already finished .*nothing to do/);
    const more = fedrl(root, "run", "--resume", join("runs", runs[1]!), "--set", "budget.stepsPerActor=1000");
    expect(more.status, more.stderr).to.equal(0);
    expect(more.stderr).to.match(/resumed .* at 500 steps per actor/);
    expect(JSON.parse(readFileSync(join(root, "runs", runs[1]!, "summary.json"), "utf8")).actors[0].steps).to.equal(1000);
  });
});
