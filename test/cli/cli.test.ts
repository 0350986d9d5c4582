import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = "bin/fedrl.mjs";
const env = { ...process.env, NATS_URL: "", REDIS_URL: "", FEDRL_DEBUG: "" };
const fedrl = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env, cwd: process.cwd() });
const COMMANDS = ["run", "learner", "actor", "train-local", "replay-clear", "config", "eval", "plot", "export"];

describe("fedrl CLI", function () {
  this.timeout(120_000);

  it("every command has its own --help listing its options (exit 0)", () => {
    for (const c of COMMANDS) {
      const r = fedrl(c, "--help");
      expect(r.status, `${c}: ${r.stderr}`).to.equal(0);
      expect(r.stdout, c).to.match(new RegExp(`^usage: fedrl ${c}\\b`));
      expect(r.stdout, c).to.include("--help").and.include("--debug");
    }
    expect(fedrl("train-local", "--help").stdout).to.include("--episodes N").and.include("--resume DIR");
    expect(fedrl("eval", "--help").stdout).to.include("--checkpoint DIR");
    expect(fedrl("actor", "--help").stdout).to.include("--id ID").and.include("--byzantine");
    expect(fedrl("run", "--help").stdout).to.include("--set").and.include("--resume DIR");
  });

  it("--version prints the package version", () => {
    const r = fedrl("--version");
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^fedrl \d+\.\d+\.\d+/);
  });

  it("unknown command or flag: one line, the usage, exit 2", () => {
    const a = fedrl("bogus");
    expect(a.status).to.equal(2);
    expect(a.stderr.split("\n")[0]).to.equal('fedrl: unknown command "bogus"');
    expect(a.stderr).to.include("usage: fedrl <command>");
    const b = fedrl("run", "--nope");
    expect(b.status).to.equal(2);
    expect(b.stderr.split("\n")[0]).to.match(/^fedrl run: Unknown option '--nope'/);
    expect(b.stderr).to.include("usage: fedrl run");
    expect(fedrl().status).to.equal(2);
  });

  it("config print shows the effective config after --set (YAML, or JSON)", () => {
    const r = fedrl("config", "print", "--config", "configs/cartpole-hybrid.yaml", "--set", "learner.filter.theta=0.3", "--json");
    expect(r.status, r.stderr).to.equal(0);
    const c = JSON.parse(r.stdout);
    expect(c.learner.filter.theta).to.equal(0.3);
    expect(c.run).to.equal("cartpole-hybrid");
    // no --config: the per-env default run (launch/defaults.ts), the CartPole hybrid with a budget
    expect(fedrl("config", "print").stdout).to.match(/^run: cartpole-hybrid$/m).and.match(/^mode: hybrid$/m).and.match(/^ {2}stepsPerActor: [1-9]/m);
  });

  it("user errors are one line naming the cause and the fix, exit 2, no stack; --debug adds it", () => {
    const cases: [string[], RegExp][] = [
      [["run", "--set", "env.id=Nope-v0"], /unknown env id "Nope-v0"; registered: CartPole-v1/],
      [["run", "--set", "env.options.bogus=1"], /env\.options: unknown key bogus for CartPole-v1; valid: .*suttonBartoReward/],
      [["run", "--config", "configs/cartpole-hybrid.yaml", "--set", "agent.nope=1"], /configs\/cartpole-hybrid\.yaml.*agent: unknown DQN config key/],
      [["train-local", "--steps", "ten"], /--steps: expected a number, got "ten"/],
      [["eval", "--checkpoint", "/nonexistent/ckpt"], /no such checkpoint or run folder: \/nonexistent\/ckpt/],
      [["plot", "/nonexistent/run"], /no such run folder/],
    ];
    for (const [args, re] of cases) {
      const r = fedrl(...args);
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.split("\n")[0], args.join(" ")).to.match(re);
      expect(r.stderr, args.join(" ")).not.to.match(/\n\s+at /);
    }
    const d = fedrl("eval", "--checkpoint", "/nonexistent/ckpt", "--debug");
    expect(d.status).to.equal(2);
    expect(d.stderr).to.match(/\n\s+at /);
  });

  it("NATS or Redis down: one line before anything starts, exit 2, no run folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "fedrl-down-"));
    const r = spawnSync(process.execPath, [BIN, "run", "--set", `runDir=${dir}/run`], { encoding: "utf8", env: { ...env, NATS_URL: "nats://127.0.0.1:4999", REDIS_URL: "redis://127.0.0.1:6999" } });
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr.trim().split("\n")).to.have.length(1);
    expect(r.stderr).to.match(/NATS at nats:\/\/127\.0\.0\.1:4999 is not reachable .*; start nats-server/);
    expect(existsSync(join(dir, "run"))).to.equal(false);
    const redis = spawnSync(process.execPath, [BIN, "run", "--set", `runDir=${dir}/run`], { encoding: "utf8", env: { ...env, NATS_URL: "nats://127.0.0.1:4222", REDIS_URL: "redis://127.0.0.1:6999" } });
    expect(redis.status).to.equal(2);
    expect(redis.stderr).to.match(/^fedrl: Redis at redis:\/\/127\.0\.0\.1:6999 is not reachable/);
    expect(readdirSync(dir)).to.deep.equal([]);
  });
});
