/**
 * DQN learning-step kernels side by side → bench/results/kernel.json (+ kernel.md):
 *   the plain-JS engine, the fused WebAssembly SIMD kernel (engine "wasm") and, when a Python with
 *   torch is found, the PyTorch anchor (../shared/anchors/torch_dqn_bench.py, 1 thread) run in the
 *   same process run, between two passes of ours (the machine is shared and noisy: ratios are taken
 *   within one run).
 *
 *   npm run bench:kernel [-- --python /path/to/python] [--no-torch] [--reps 9]
 *
 * Python: --python, else $TORCH_PYTHON, else python3; skipped (and said so) if it cannot import torch.
 * Update = one gradient step on a batch of 64 (targets, Huber, backward, clip, Adam, soft target
 * update), 8 → h → h → 4 MLP, median over repetitions of the mean time of `iters` calls.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DqnAgent } from "../algorithms/dqn/agent";
import { syntheticBatch } from "../core/batch";
import { Random as Rng } from "../core/random";
import { median, writeResult, writeText } from "./util";

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const REPS = Number(flag("--reps") ?? 9);
const SIZES = [64, 128] as const;
const ENGINES = ["js", "wasm"] as const;
const ANCHOR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "shared", "anchors", "torch_dqn_bench.py");
const round = (x: number, d = 4) => Number(x.toFixed(d));

/** all REPS samples (ms per call, each the mean of `iters` calls) */
function samples(iters: number, f: () => void, warm = Math.max(20, iters >> 2)): number[] {
  for (let i = 0; i < warm; i++) f();
  const out: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) f();
    out.push((performance.now() - t0) / iters);
  }
  return out;
}

type Key = `${(typeof ENGINES)[number]}/${"dqn" | "double"}/h${number}`;
const update = new Map<Key, number[]>();
const act = new Map<Key, number[]>();

function pass(): void {
  for (const h of SIZES) {
    for (const algorithm of ["dqn", "double"] as const) {
      for (const engine of ENGINES) {
        const agent = new DqnAgent({ obsDim: 8, numActions: 4, config: { hidden: [h, h], algorithm, engine, lr: 1e-3 } });
        const rng = new Rng(h);
        const bs = [0, 1, 2, 3].map(() => syntheticBatch(64, 8, 4, rng, { pTerminated: 0.05 }));
        let k = 0;
        const iters = engine === "js" ? (h === 64 ? 200 : 60) : 400;
        const key: Key = `${engine}/${algorithm}/h${h}`;
        update.set(key, [...(update.get(key) ?? []), ...samples(iters, () => agent.learnOn(bs[k++ & 3]!))]);
        const obs = bs.map((b) => b.obs.slice(0, 8));
        act.set(key, [...(act.get(key) ?? []), ...samples(20000, () => agent.greedyAction(obs[k++ & 3]!)).map((ms) => ms * 1000)]);
        console.error(`${key}: update ${median(update.get(key)!).toFixed(3)} ms, act ${median(act.get(key)!).toFixed(2)} µs`);
      }
    }
  }
}

/** Parameters / loss after K steps, wasm vs js (relative norm of the difference). */
function equivalence() {
  const rows: Record<string, unknown>[] = [];
  for (const h of SIZES) {
    for (const algorithm of ["dqn", "double"] as const) {
      const config = { hidden: [h, h], algorithm, lr: 1e-3, seed: 1 };
      const js = new DqnAgent({ obsDim: 8, numActions: 4, config: { ...config, engine: "js" } });
      const wa = new DqnAgent({ obsDim: 8, numActions: 4, config: { ...config, engine: "wasm" } });
      const rng = new Rng(7);
      let lossRel = 0;
      const K = 50;
      for (let i = 0; i < K; i++) {
        const b = syntheticBatch(64, 8, 4, rng, { rewards: [-3, 3], pTerminated: 0.1 });
        const rj = js.learnOn(b), rw = wa.learnOn(b);
        lossRel = Math.max(lossRel, Math.abs(rw.loss - rj.loss) / Math.abs(rj.loss));
      }
      const pj = js.getParameters(), pw = wa.getParameters();
      let d2 = 0, n2 = 0, abs = 0;
      for (let i = 0; i < pj.length; i++) {
        d2 += (pw[i]! - pj[i]!) ** 2;
        n2 += pj[i]! ** 2;
        abs = Math.max(abs, Math.abs(pw[i]! - pj[i]!));
      }
      rows.push({ net: `8→${h}→${h}→4`, algorithm, steps: K, paramsRelNorm: Number(Math.sqrt(d2 / n2).toExponential(2)), paramsMaxAbs: Number(abs.toExponential(2)), lossMaxRel: Number(lossRel.toExponential(2)) });
    }
  }
  return rows;
}

function findPython(): { python: string | null; note: string } {
  if (argv.includes("--no-torch")) return { python: null, note: "--no-torch" };
  if (!existsSync(ANCHOR)) return { python: null, note: `anchor script not found at ${ANCHOR}` };
  const candidates = [flag("--python"), process.env.TORCH_PYTHON, "python3"].filter((x): x is string => !!x);
  for (const py of candidates) {
    const r = spawnSync(py, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
    if (r.status === 0) return { python: py, note: `torch ${r.stdout.trim()}` };
  }
  return {
    python: null,
    note: `no Python with torch among ${candidates.join(", ")} (see ../shared/README.md: venv + pip install "torch==2.13.0+cpu", then --python <venv>/bin/python or TORCH_PYTHON)`,
  };
}

/** Runs the anchor script; µs per update / act for 64 and 128 hidden units. */
function torchAnchor(python: string): { version: string; update_us: Record<string, number>; act_us: Record<string, number>; raw: string } | null {
  const r = spawnSync(python, [ANCHOR], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" } });
  if (r.status !== 0) {
    console.error(`torch anchor failed: ${r.stderr}`);
    return null;
  }
  const update_us: Record<string, number> = {}, act_us: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/mlp 8-(\d+)-\d+-4 batch 64: update (\d+(?:\.\d+)?) us, act\(1 obs\) (\d+(?:\.\d+)?) us/g)) {
    update_us[`h${m[1]}`] = Number(m[2]);
    act_us[`h${m[1]}`] = Number(m[3]);
  }
  const version = /torch (\S+)/.exec(r.stdout)?.[1] ?? "?";
  return { version, update_us, act_us, raw: r.stdout.trim() };
}

async function main() {
  const load0 = loadavg();
  const py = findPython();
  console.error(`PyTorch anchor: ${py.python ? `${py.python} (${py.note})` : `skipped: ${py.note}`}`);
  pass();
  const torch = py.python ? torchAnchor(py.python) : null;
  if (torch) console.error(torch.raw);
  pass(); // ours again after the anchor: medians pool both passes
  const eq = equivalence();
  const rows = SIZES.flatMap((h) =>
    (["dqn", "double"] as const).map((algorithm) => {
      const m = (e: (typeof ENGINES)[number], which: Map<Key, number[]>) => median(which.get(`${e}/${algorithm}/h${h}`)!);
      const js = m("js", update), wasm = m("wasm", update);
      const t = torch?.update_us[`h${h}`];
      return {
        net: `8→${h}→${h}→4`, algorithm, batch: 64,
        jsMs: round(js), wasmMs: round(wasm), torchMs: t === undefined ? null : round(t / 1000),
        wasmVsJs: round(wasm / js, 3),
        wasmVsTorch: t === undefined ? null : round(wasm / (t / 1000), 3),
        jsVsTorch: t === undefined ? null : round(js / (t / 1000), 3),
        jsActUs: round(m("js", act), 2), wasmActUs: round(m("wasm", act), 2), torchActUs: torch?.act_us[`h${h}`] ?? null,
      };
    }),
  );
  const result = {
    what: "DQN update (batch 64: TD targets, Huber, backward, global-norm clip 10, Adam, soft target update) and greedy action on 1 obs; js = plain-JS engine, wasm = fused WebAssembly SIMD kernel (engine \"wasm\"); medians of 2 passes × " + REPS + " repetitions, the PyTorch anchor run between the passes",
    torch: torch ? { python: py.python, version: torch.version, script: "../shared/anchors/torch_dqn_bench.py", note: "standard DQN target, no grad clip, 1 thread; compare with the 'dqn' rows", output: torch.raw } : { skipped: py.note },
    rows,
    equivalence: { note: "wasm vs js engine after K steps from the same init on the same random batches", rows: eq },
    loadavg: { before: load0, after: loadavg(), note: "shared 2-core machine" },
  };
  const path = writeResult("kernel", result);
  const md = [
    "# DQN learning-step kernels (bench/kernel.ts)",
    "",
    `Batch 64, 8→h→h→4 MLP; medians of 2 passes × ${REPS} repetitions. PyTorch: ${torch ? `${torch.version}, 1 thread, \`../shared/anchors/torch_dqn_bench.py\` run between the passes (standard DQN target, no clip)` : `not run (${py.note})`}.`,
    "",
    "| net | algorithm | js ms | wasm ms | torch ms | wasm / js | wasm / torch | js / torch | act js µs | act wasm µs | act torch µs |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.net} | ${r.algorithm} | ${r.jsMs} | ${r.wasmMs} | ${r.torchMs ?? "–"} | ${r.wasmVsJs} | ${r.wasmVsTorch ?? "–"} | ${r.jsVsTorch ?? "–"} | ${r.jsActUs} | ${r.wasmActUs} | ${r.torchActUs ?? "–"} |`),
    "",
    "Equivalence, wasm vs js after K steps (same init, same batches):",
    "",
    "| net | algorithm | K | ‖Δθ‖/‖θ‖ | max abs Δθ | max loss rel. diff |",
    "|---|---|---|---|---|---|",
    ...eq.map((e) => `| ${e.net} | ${e.algorithm} | ${e.steps} | ${e.paramsRelNorm} | ${e.paramsMaxAbs} | ${e.lossMaxRel} |`),
    "",
    `Load average before/after: ${load0.map((x) => x.toFixed(2)).join(" ")} / ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`,
    "",
  ].join("\n");
  writeText("kernel.md", md);
  console.error(md);
  console.error(`wrote ${path}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
