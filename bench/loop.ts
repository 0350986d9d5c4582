/**
 * The whole DQN loop, end to end, against PyTorch + Gymnasium on the same machine in the same run:
 * `fedrl train-local` on CartPole-v1 with the anchor's hyperparameters (CARTPOLE_DQN: 64×64, lr
 * 1e-3, batch 64, γ 0.99, hard target every 125 updates, learn every 4 steps from step 1000, ε 1 →
 * 0.02 linear over 10k steps, replay 50k, Huber, clip 10, Adam) vs ../shared/anchors/
 * torch_dqn_cartpole.py (CleanRL-shaped, torch 1 thread). Env steps per second of the training
 * loop incl. learning (process start-up and imports excluded on both sides), per seed, the js and
 * the wasm engine, runs interleaved (torch, js, wasm per seed); medians and ratios.
 *
 *   npm run bench:loop [-- --steps 30000 --seeds 0,1,2 --python /path/to/venv/bin/python]
 *
 * PyTorch: see ../shared/README.md (a venv with torch==2.13.0+cpu and gymnasium from the local mirror).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CARTPOLE_DQN } from "../algorithms/dqn/config";
import { trainLocal } from "../launch/train-local";
import { machineInfo, median, runInChild, writeResult, writeText } from "./util";

const ANCHOR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "shared", "anchors", "torch_dqn_cartpole.py");

interface Job { engine: "js" | "wasm"; steps: number; seed: number }
interface Cell { stepsPerSec: number; wallSeconds: number; episodes: number; finalMean: number; solvedAt: number | null }

async function child(job: Job): Promise<Cell> {
  const s = await trainLocal({ env: "CartPole-v1", config: { ...CARTPOLE_DQN, algorithm: "dqn", nStep: 1, hidden: [64, 64], huberDelta: 1, maxGradNorm: 10, engine: job.engine }, maxSteps: job.steps, seed: job.seed });
  // The episode at which mean-100 first reaches 475, as the anchor reports it (the run does not stop there).
  let solvedAt: number | null = null, sum = 0;
  for (let i = 0; i < s.returns.length && solvedAt === null; i++) {
    sum += s.returns[i]! - (i >= 100 ? s.returns[i - 100]! : 0);
    if (i + 1 >= 100 && sum / 100 >= 475) solvedAt = i + 1;
  }
  return { stepsPerSec: s.steps / s.wallSeconds, wallSeconds: s.wallSeconds, episodes: s.episodes, finalMean: s.finalMean, solvedAt };
}

function torch(python: string, steps: number, seed: number): Cell & { line: string } {
  const line = execFileSync(python, [ANCHOR, String(steps), String(seed)], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1" } }).trim().split("\n").pop()!;
  // "... seed S: N steps in W s = R steps/s incl. learning; E episodes, final mean-100 M, mean-100>=475 at (ep, step)|None"
  const m = /in ([\d.]+) s = (\d+) steps\/s.*?; (\d+) episodes, final mean-100 ([\d.-]+), mean-100>=475 at (None|\((\d+), \d+\))/.exec(line);
  if (!m) throw new Error(`cannot parse the anchor's line: ${line}`);
  return { stepsPerSec: Number(m[2]), wallSeconds: Number(m[1]), episodes: Number(m[3]), finalMean: Number(m[4]), solvedAt: m[6] ? Number(m[6]) : null, line };
}

async function main() {
  const { values } = parseArgs({ options: { steps: { type: "string", default: "30000" }, seeds: { type: "string", default: "0,1,2" }, python: { type: "string" }, job: { type: "string" } } });
  if (values.job) {
    process.stdout.write(`${JSON.stringify(await child(JSON.parse(values.job) as Job))}\n`);
    return;
  }
  const python = values.python ?? process.env.FEDRL_TORCH_PYTHON ?? "/tmp/torchvenv/bin/python";
  if (!existsSync(python) || !existsSync(ANCHOR)) {
    process.stderr.write(`bench:loop needs PyTorch + Gymnasium (--python PATH, now ${python}) and ${ANCHOR}; ../shared/README.md says how to install them\n`);
    process.exit(2);
  }
  const steps = Number(values.steps);
  const seeds = values.seeds!.split(",").map(Number);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const rows: { seed: number; torch: Cell; js: Cell; wasm: Cell }[] = [];
  let anchorVersion = "";
  for (const seed of seeds) {
    const t = torch(python, steps, seed);
    anchorVersion = /torch \S+ gymnasium \S+/.exec(t.line)?.[0] ?? anchorVersion;
    log(`seed ${seed}: PyTorch + Gymnasium ${t.stepsPerSec.toFixed(0)} steps/s (${t.wallSeconds.toFixed(1)} s)`);
    const js = await runInChild<Cell>(fileURLToPath(import.meta.url), { engine: "js", steps, seed } satisfies Job);
    log(`seed ${seed}: fedrl train-local js   ${js.stepsPerSec.toFixed(0)} steps/s (${js.wallSeconds.toFixed(1)} s)`);
    const wasm = await runInChild<Cell>(fileURLToPath(import.meta.url), { engine: "wasm", steps, seed } satisfies Job);
    log(`seed ${seed}: fedrl train-local wasm ${wasm.stepsPerSec.toFixed(0)} steps/s (${wasm.wallSeconds.toFixed(1)} s)`);
    rows.push({ seed, torch: { ...t, line: undefined } as unknown as Cell, js, wasm });
  }
  const med = (f: (r: (typeof rows)[number]) => number) => median(rows.map(f));
  const ratioJs = med((r) => r.js.stepsPerSec / r.torch.stepsPerSec), ratioWasm = med((r) => r.wasm.stepsPerSec / r.torch.stepsPerSec);
  const f0 = (x: number) => Math.round(x).toLocaleString("en");
  const sol = (c: Cell) => (c.solvedAt === null ? "–" : String(c.solvedAt));
  const md = `# DQN loop on CartPole-v1: fedrl train-local vs PyTorch + Gymnasium (same run)

${steps.toLocaleString("en")} env steps per run, the anchor's hyperparameters on both sides (CARTPOLE_DQN: 64×64, lr 1e-3, batch 64, hard target every 125 updates, learn every 4 steps from 1,000, ε linear 1 → 0.02 over 10k, replay 50k). Steps/s of the training loop incl. learning; runs interleaved per seed. Anchor: ${anchorVersion}, 1 thread. Goal (#16): fedrl ≥ 2× the anchor.

| seed | PyTorch + Gymnasium steps/s | fedrl js steps/s | fedrl wasm steps/s | js / anchor | wasm / anchor | episodes (torch / js / wasm) | final mean-100 (torch / js / wasm) | episode mean-100 ≥ 475 (torch / js / wasm) |
|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.seed} | ${f0(r.torch.stepsPerSec)} | ${f0(r.js.stepsPerSec)} | ${f0(r.wasm.stepsPerSec)} | ${(r.js.stepsPerSec / r.torch.stepsPerSec).toFixed(2)}× | ${(r.wasm.stepsPerSec / r.torch.stepsPerSec).toFixed(2)}× | ${r.torch.episodes} / ${r.js.episodes} / ${r.wasm.episodes} | ${r.torch.finalMean.toFixed(1)} / ${r.js.finalMean.toFixed(1)} / ${r.wasm.finalMean.toFixed(1)} | ${sol(r.torch)} / ${sol(r.js)} / ${sol(r.wasm)} |`).join("\n")}

Median ratio: js **${ratioJs.toFixed(2)}×**, wasm **${ratioWasm.toFixed(2)}×** the anchor's steps/s.

Machine: ${JSON.stringify(machineInfo())}
`;
  writeText("loop-CartPole-v1.md", md);
  const path = writeResult("loop-CartPole-v1", { steps, seeds, anchor: anchorVersion, rows, median: { torch: med((r) => r.torch.stepsPerSec), js: med((r) => r.js.stepsPerSec), wasm: med((r) => r.wasm.stepsPerSec), ratioJs, ratioWasm }, goal: { ratio: 2, met: ratioWasm >= 2 || ratioJs >= 2 } });
  log(md);
  log(`wrote ${path}`);
}

main().then(() => process.exit(0), (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
