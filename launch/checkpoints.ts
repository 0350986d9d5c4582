/** Finding an agent checkpoint and its run's config from a path a user gives (a checkpoint or a run folder). */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { algorithmNamed } from "../algorithms/registry";
import type { Agent } from "../core/agent";
import { parseExperiment, type Experiment } from "./config";
import { UserError } from "./errors";

/** The agent checkpoint `path` names: itself, or a run folder's global model (learner-checkpoint/model), else its first actor's. */
export function resolveCheckpoint(path: string): string {
  if (!existsSync(path)) throw new UserError(`no such checkpoint or run folder: ${path}`);
  if (existsSync(join(path, "state.json"))) return path;
  for (const c of [join(path, "model"), join(path, "learner-checkpoint", "model")]) if (existsSync(join(c, "state.json"))) return c;
  const actors = readdirSync(path).filter((f) => f.endsWith("-checkpoint") && existsSync(join(path, f, "state.json"))).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (actors.length) return join(path, actors[0]!);
  throw new UserError(`${path} holds no checkpoint (state.json); pass runs/<run>/learner-checkpoint, runs/<run>/actor-0-checkpoint or a run folder`);
}

/** The run's saved config (config.json in the checkpoint's run folder), if any. */
export function runConfigOf(checkpoint: string): Experiment | null {
  let dir = resolve(checkpoint);
  for (let i = 0; i < 3; i++) {
    const p = join(dir, "config.json");
    if (existsSync(p) && existsSync(join(dir, "run.json"))) return parseExperiment(JSON.parse(readFileSync(p, "utf8")), p);
    dir = dirname(dir);
  }
  return null;
}

/** The checkpoint's algorithm: state.json's `algorithm` (PPO writes it; DQN checkpoints carry none). */
export function checkpointAlgorithm(checkpoint: string): string {
  try {
    const a = (JSON.parse(readFileSync(join(checkpoint, "state.json"), "utf8")) as { algorithm?: unknown }).algorithm;
    return typeof a === "string" ? a : "dqn";
  } catch {
    return "dqn";
  }
}

/** The agent a checkpoint holds, by its algorithm's builder. */
export async function loadAgent(checkpoint: string): Promise<Agent> {
  try {
    return await algorithmNamed(checkpointAlgorithm(checkpoint)).load(checkpoint);
  } catch (e) {
    throw new UserError(`cannot load the checkpoint ${checkpoint}: ${(e as Error).message.split("\n")[0]}`);
  }
}

const TYPED: Record<string, new (b: ArrayBuffer) => ArrayBufferView> = { Float32Array, Float64Array, Int32Array, Uint32Array, Uint8Array, Int8Array, Uint16Array, Int16Array };

/** JSON that keeps typed arrays (as bytes) and every number bit for bit (NaN, ±Infinity, −0 included). */
export function encodeState(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string) {
    const v = this[key];
    if (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))) return { $n: Object.is(v, -0) ? "-0" : String(v) };
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return { $t: v.constructor.name, b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
    return v;
  });
}

/** Reads what encodeState wrote. */
export function decodeState<T>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$n === "string" && Object.keys(o).length === 1) return o.$n === "-0" ? -0 : Number(o.$n);
      if (typeof o.$t === "string" && typeof o.b === "string" && Object.keys(o).length === 2) {
        const bytes = Buffer.from(o.b, "base64");
        const C = TYPED[o.$t];
        if (!C) throw new Error(`checkpoint: unknown array type ${o.$t}`);
        return new C(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      }
    }
    return v;
  }) as T;
}
