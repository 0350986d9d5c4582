import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = { ...process.env, NATS_URL: "", REDIS_URL: "" };
const fedrl = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [join(process.cwd(), "bin/fedrl.mjs"), ...args], { encoding: "utf8", env, cwd });

/** eval, plot and export on the folder `npm start` leaves (the same command with a short budget). */
describe("fedrl eval / plot / export on a run folder", function () {
  this.timeout(300_000);
  const root = mkdtempSync(join(tmpdir(), "fedrl-cmds-"));
  let run = "";

  before(() => {
    const r = fedrl(root, "run", "--config", join(process.cwd(), "configs/cartpole-hybrid.yaml"), "--set", "budget.stepsPerActor=3000", "--set", "eval.episodes=2");
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include("wall clock: runs with the same seed differ; use --set clock=steps to reproduce");
    expect(r.stderr + r.stdout).not.to.include("Hi, looks like you are running TensorFlow.js");
    for (const line of r.stderr.split("\n").filter((l) => /^\[\s*\d+%/.test(l))) expect(line.length, line).to.be.at.most(120);
    run = join("runs", readdirSync(join(root, "runs"))[0]!);
  });

  it("eval: greedy mean ± std as a table and JSON, of the global model by default or a given checkpoint", () => {
    const r = fedrl(root, "eval", "--checkpoint", run, "--episodes", "3", "--seed", "7");
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/greedy return\s+[\d.]+ ± [\d.]+/);
    const j = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(j).to.include({ env: "CartPole-v1", episodes: 3, seed: 7 });
    expect(j.checkpoint).to.match(/learner-checkpoint\/model$/);
    expect(j.returns).to.have.length(3);
    const a = fedrl(root, "eval", "--checkpoint", join(run, "actor-1-checkpoint"), "--episodes", "2", "--json");
    expect(a.status, a.stderr).to.equal(0);
    expect(JSON.parse(a.stdout).checkpoint).to.match(/actor-1-checkpoint$/);
  });

  it("plot: curves.svg and curves.png in the run folder", () => {
    const r = fedrl(root, "plot", run);
    expect(r.status, r.stderr).to.equal(0);
    const svg = readFileSync(join(root, run, "curves.svg"), "utf8");
    expect(svg).to.match(/^<svg /).and.include("mean-100 return per actor").and.include("learner loss").and.include("actor-2");
    const png = readFileSync(join(root, run, "curves.png"));
    expect(png.subarray(0, 8).toString("hex")).to.equal("89504e470d0a1a0a");
  });

  it("export: a tfjs layers model and a documented weights JSON", () => {
    const r = fedrl(root, "export", "--checkpoint", run, "--out", "exported");
    expect(r.status, r.stderr).to.equal(0);
    for (const f of ["model.json", "weights.bin", "weights.json"]) expect(existsSync(join(root, "exported", f)), f).to.equal(true);
    const w = JSON.parse(readFileSync(join(root, "exported", "weights.json"), "utf8"));
    expect(w.format).to.match(/^fedrl-weights\/1/);
    expect(w.obsDim).to.equal(4);
    expect(w.numActions).to.equal(2);
    const total = w.layout.entries.reduce((s: number, e: { shape: number[] }) => s + e.shape.reduce((a, b) => a * b, 1), 0);
    expect(Object.values(w.values as Record<string, number[]>).reduce((s, v) => s + v.length, 0)).to.equal(total);
    expect(readFileSync(join(root, "exported", "weights.bin")).length).to.equal(total * 4);
  });
});
