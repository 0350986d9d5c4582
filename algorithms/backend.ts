/**
 * tfjs backend selection at run time: tensorflow (if @tensorflow/tfjs-node loads) → wasm → cpu.
 * Idempotent: the first call decides; later calls return the same name (a later call with a
 * different explicit preference switches backend).
 *
 * The DQN learning step itself runs in plain JS (algorithms/dqn/network.ts, measured faster for
 * these nets); tfjs is used for checkpoints in layers-model format and by anything else that
 * wants tensors.
 */
import * as tf from "@tensorflow/tfjs";

export type BackendPreference = "auto" | "tensorflow" | "wasm" | "cpu";

let current: { pref: BackendPreference; name: Promise<string> } | null = null;

async function tryTensorflow(): Promise<boolean> {
  const name = "@tensorflow/tfjs-node";
  try {
    await import(/* @vite-ignore */ name);
    return tf.findBackend("tensorflow") !== null && (await tf.setBackend("tensorflow"));
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    await import("@tensorflow/tfjs-backend-wasm");
    return await tf.setBackend("wasm");
  } catch {
    return false;
  }
}

async function select(pref: BackendPreference, log: (msg: string) => void): Promise<string> {
  const order: BackendPreference[] = pref === "auto" ? ["tensorflow", "wasm", "cpu"] : [pref];
  for (const b of order) {
    const ok = b === "tensorflow" ? await tryTensorflow() : b === "wasm" ? await tryWasm() : await tf.setBackend("cpu");
    if (ok) {
      await tf.ready();
      log(`[fedrl] tfjs backend: ${tf.getBackend()}${pref === "auto" ? " (auto)" : ""}`);
      return tf.getBackend();
    }
    if (pref !== "auto") throw new Error(`tfjs backend "${b}" is not available`);
  }
  throw new Error("no tfjs backend available");
}

/** Select and initialise the tfjs backend; returns its name ("tensorflow" | "wasm" | "cpu"). */
export function initBackend(preference: BackendPreference = "auto", log: (msg: string) => void = (m) => console.error(m)): Promise<string> {
  if (current && (current.pref === preference || preference === "auto")) return current.name;
  const name = select(preference, log);
  current = { pref: preference, name };
  name.catch(() => {
    if (current?.name === name) current = null;
  });
  return name;
}
