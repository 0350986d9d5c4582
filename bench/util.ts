import { spawn } from "node:child_process";
import { cpus, totalmem, platform, release, arch } from "node:os";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { make } from "../envs/index";
import { mulberry32 } from "../core/random";
import { allocBatch, type TransitionBatch } from "../core/batch";

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "results");

export function machineInfo() {
  const c = cpus();
  return {
    node: process.version,
    platform: `${platform()} ${release()} ${arch()}`,
    cpu: c[0]?.model ?? "unknown",
    cores: c.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString(),
  };
}

export { median } from "../core/vec";

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Write `bench/results/<name>.json` with machine info attached; returns the path. */
export function writeResult(name: string, data: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, JSON.stringify({ machine: machineInfo(), ...data }, null, 2) + "\n");
  return path;
}

export function writeText(name: string, text: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** n transitions of `envId` under a seeded uniform-random policy, in episode order (as an actor ships them). */
export function recordTransitions(envId: string, n: number, seed = 0): TransitionBatch {
  const env = make(envId);
  const d = env.observationSize;
  const rnd = mulberry32(seed);
  const b = allocBatch(n, d);
  let { obs } = env.reset({ seed });
  let episode = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.floor(rnd() * env.actionCount);
    const r = env.step(a);
    b.obs.set(obs, i * d);
    b.nextObs.set(r.obs, i * d);
    b.actions[i] = a;
    b.rewards[i] = r.reward;
    b.terminated[i] = r.terminated ? 1 : 0;
    b.truncated[i] = r.truncated ? 1 : 0;
    obs = r.terminated || r.truncated ? env.reset({ seed: seed * 100_003 + ++episode }).obs : r.obs;
  }
  return b;
}

/** Runs `script --job <json>` in its own Node process (tsx) and resolves with the JSON on its last stdout line. */
/** Runs `fn` on every item, at most `jobs` at a time, in order of the list (a benchmark's cell pool). */
export async function forEachParallel<T>(items: readonly T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export function runInChild<R>(script: string, job: unknown): Promise<R> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ["--import", "tsx", script, "--job", JSON.stringify(job)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!) as R) : reject(new Error(`job ${JSON.stringify(job)} exited ${code}`))));
  });
}
