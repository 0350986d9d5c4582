import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group of a real multi-process run. */
describe("Ctrl-C on fedrl run over NATS + Redis", function () {
  this.timeout(300_000);

  it("drains the actors before the learner, writes every checkpoint, loses nothing, exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fedrl-sigint-"));
    const run = `sigint${process.pid}${Date.now() % 100000}`;
    const child = spawn(process.execPath, ["bin/fedrl.mjs", "run", "--config", "configs/cartpole-hybrid.yaml", "--set", `run=${run}`, "--set", `runDir=${join(dir, "run")}`,
      "--set", "budget.stepsPerActor=100000000", "--set", "actors.count=2", "--set", "learner.replay.capacity=20000"], {
      env: { ...process.env, NATS_URL: "nats://127.0.0.1:4222", REDIS_URL: "redis://127.0.0.1:6379" }, detached: true, stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
    child.stdout!.on("data", (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    // Wait until both actors report progress (their heartbeats reach the launcher: steps per actor > 0).
    const going = /\[\s*\d+% [1-9][\d.]*k?\/\S+ steps/;
    for (let i = 0; i < 600 && !going.test(err); i++) await new Promise((r) => setTimeout(r, 250));
    expect(err, err).to.match(going);
    for (const line of err.split("\n").filter((l) => going.test(l))) expect(line.length, line).to.be.at.most(120);
    await new Promise((r) => setTimeout(r, 3000));
    process.kill(-child.pid!, "SIGINT");
    const code = await exited;
    expect(code, err).to.equal(0);
    expect(err.match(/SIGINT: draining/g), err).to.have.length(1); // the launcher only; the children get one SIGTERM each
    expect(err).not.to.match(/counted as lost|forced quit/);
    for (const id of ["actor-0", "actor-1"]) {
      expect(existsSync(join(dir, "run", `${id}-checkpoint`, "state.json")), id).to.equal(true);
      const done = new RegExp(`actor ${id} done: (\\{.*\\})`).exec(err);
      expect(done, err).to.not.equal(null);
      const stats = JSON.parse(done![1]!);
      expect(stats.delivery.lost, id).to.equal(0);
      expect(stats.delivery.pending, id).to.equal(0);
    }
    expect(existsSync(join(dir, "run", "learner-checkpoint", "learner.json"))).to.equal(true);
    expect(err.indexOf("learner stopped")).to.be.greaterThan(err.lastIndexOf("actor actor-1 done"));
    expect(JSON.parse(readFileSync(join(dir, "run", "run.json"), "utf8")).status).to.equal("stopped");
  });
});
