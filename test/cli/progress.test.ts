import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { progressSink, progressWriter, type TtyLike } from "../../launch/progress";

const fakeTty = (columns?: number): TtyLike & { out: string } => {
  const s = { isTTY: true, columns, out: "", write(x: string) { s.out += x; return true; } };
  return s;
};
const CLEAR = "\r\x1b[K";
/** What a terminal shows last on each physical line: everything after the last "clear line". */
const segments = (out: string) => out.split(/\r\x1b\[K|\n/).filter((x) => x.length > 0);

describe("progress on a TTY", () => {
  let ci: string | undefined;
  beforeEach(() => { ci = process.env.CI; delete process.env.CI; });
  afterEach(() => { if (ci === undefined) delete process.env.CI; else process.env.CI = ci; });

  it("redraws the line in place, cut to the terminal width; log lines go above it", () => {
    const tty = fakeTty(60);
    const logged: string[] = [];
    const called: string[] = [];
    const s = progressSink((l) => { logged.push(l); tty.write(`${l}\n`); }, (l) => called.push(l), tty);
    expect(s.every).to.equal(1000);
    s.progress!(`[  5% 1.0k/20k steps · 500/s · ETA 38s] ${"x".repeat(100)}`);
    expect(tty.out.startsWith(CLEAR)).to.equal(true);
    expect(tty.out).not.to.contain("\n");
    expect(segments(tty.out)[0]!.length).to.equal(59);
    s.log("[actor-0] a child's line");
    s.progress!("[ 10% 2.0k/20k steps · 500/s · ETA 36s] short");
    s.done();
    expect(called).to.deep.equal([]); // drawn on the stream instead
    expect(logged).to.deep.equal(["[actor-0] a child's line"]);
    // the log line cleared the progress line, printed itself, and the progress line came back below it
    const i = tty.out.indexOf("[actor-0]");
    expect(tty.out.slice(i - CLEAR.length, i)).to.equal(CLEAR);
    expect(tty.out.slice(i)).to.match(/^\[actor-0\] a child's line\n\[  5% /);
    expect(tty.out.endsWith(`short${CLEAR}`)).to.equal(true);
    for (const seg of segments(tty.out)) expect(seg.length).to.be.at.most(59);
  });

  it("at most 120 columns on a wide terminal or one of unknown width", () => {
    for (const cols of [200, undefined, 0]) {
      const tty = fakeTty(cols);
      const w = progressWriter(tty);
      w.line("y".repeat(300));
      expect(segments(tty.out)[0]!.length, String(cols)).to.equal(cols === 200 ? 120 : 120);
    }
  });

  it("plain periodic lines when not a TTY, under CI, or with tty: false", () => {
    const log = () => {};
    const progress = () => {};
    const notTty = { isTTY: false, write: () => true };
    for (const s of [progressSink(log, progress, notTty), progressSink(log, progress, false)]) {
      expect(s.progress).to.equal(progress);
      expect(s.log).to.equal(log);
      expect(s.every).to.equal(2000);
    }
    process.env.CI = "1";
    const s = progressSink(log, progress, fakeTty(80));
    expect(s.progress).to.equal(progress);
    const plain = fakeTty(80);
    progressWriter(plain).line("a line");
    expect(plain.out).to.equal("a line\n");
    // no progress callback: nothing is drawn, the log is the caller's
    expect(progressSink(log, undefined, fakeTty(80)).log).to.equal(log);
  });
});

const hasScript = spawnSync("script", ["--version"]).status === 0;

/** Runs `fedrl …` under a pseudo-terminal of 100 columns (util-linux script); returns what the terminal received. */
function underPty(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const cmd = `stty cols 100 rows 40; exec ${q(process.execPath)} bin/fedrl.mjs ${args.map(q).join(" ")}`;
  const e = { ...env };
  delete e.CI;
  const child = spawn("script", ["-qefc", cmd, "/dev/null"], { env: e, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  return new Promise((r) => child.once("exit", (code) => r({ code, out })));
}

(hasScript ? describe : describe.skip)("progress under a pseudo-terminal (script -qc)", function () {
  this.timeout(300_000);
  const check = (out: string) => {
    const drawn = out.split(CLEAR).slice(1).map((x) => x.split(/\r?\n/)[0]!).filter((x) => /^\[\s*\d+%/.test(x));
    expect(drawn.length, out).to.be.greaterThan(0);
    for (const d of drawn) {
      expect(d.length, d).to.be.at.most(99);
      expect(d).to.match(/^\[\s*\d+% \S+\/\S+ steps · \S+\/s · ETA \S+\]/);
    }
    // no plain progress line (one ending in a newline) was printed
    expect(out.split(/\r?\n/).map((l) => l.split(CLEAR).pop()!).filter((l) => /^\[\s*\d+% /.test(l)), out).to.deep.equal([]);
    return drawn;
  };

  it("the embedded run redraws one line in place (% of budget, rate, ETA)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fedrl-pty-"));
    const env = { ...process.env };
    delete env.NATS_URL;
    delete env.REDIS_URL;
    const { code, out } = await underPty(["run", "--config", "configs/cartpole-local.yaml", "--set", `runDir=${join(dir, "run")}`,
      "--set", "budget.stepsPerActor=30000", "--set", "actors.count=1", "--set", "eval.episodes=1", "--set", "agent.engine=js"], env);
    // 30k steps on the plain-JS engine: several seconds even on a quiet machine (6k finished in 0.7 s,
    // before the first redraw; the config's WebAssembly kernel would be done in about a second).
    expect(code, out).to.equal(0);
    check(out);
    expect(out).to.match(/(\n|\x1b\[K)done in [\d.]+ s/);
  });

  it("fedrl run over processes redraws the line, the children's lines above it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fedrl-pty-"));
    const run = `pty${process.pid}${Date.now() % 100000}`;
    const { code, out } = await underPty(["run", "--config", "configs/cartpole-hybrid.yaml", "--set", `run=${run}`, "--set", `runDir=${join(dir, "run")}`,
      "--set", "budget.stepsPerActor=5000", "--set", "actors.count=1", "--set", "eval.episodes=1", "--set", "learner.replay.capacity=20000",
      "--set", "agent.engine=js"],
      { ...process.env, NATS_URL: "nats://127.0.0.1:4222", REDIS_URL: "redis://127.0.0.1:6379" });
    expect(code, out).to.equal(0);
    const drawn = check(out);
    expect(drawn.some((d) => /\[\s*\d+% [1-9]/.test(d)), out).to.equal(true);
    expect(out).to.match(/(\n|\x1b\[K)\[actor-0\] /);
    expect(out).to.match(/actors exited with 0; learner with 0/);
  });
});
