/**
 * Actor-critic ⇄ tfjs layers-model files (model.json + weights.bin), like DQN's checkpoint.ts: a
 * functional model obs → [logits, value] built from stock tf.layers (two separate towers), so
 * `tf.loadLayersModel` reads it back and its weights are the flat vector's, name for name.
 */
import * as tf from "@tensorflow/tfjs";
import type { ActorCritic } from "./network";
import { writeModelFiles } from "../dqn/checkpoint";

/** Build a tf.LayersModel holding `params` (caller disposes it). Outputs: [logits, value]. */
export function toLayersModel(net: ActorCritic, params: Float32Array): tf.LayersModel {
  const { obsDim, numActions, hidden, activation } = net.spec;
  const input = tf.input({ shape: [obsDim], name: "obs" });
  const named: tf.layers.Layer[] = [];
  const tower = (prefix: string, head: string, units: number): tf.SymbolicTensor => {
    let x: tf.SymbolicTensor = input;
    hidden.forEach((h, l) => {
      const layer = tf.layers.dense({ units: h, activation, name: `${prefix}_dense${l}` });
      named.push(layer);
      x = layer.apply(x) as tf.SymbolicTensor;
    });
    const out = tf.layers.dense({ units, name: head });
    named.push(out);
    return out.apply(x) as tf.SymbolicTensor;
  };
  const logits = tower("pi", "pi_logits", numActions);
  const value = tower("v", "v_out", 1);
  const model = tf.model({ inputs: input, outputs: [logits, value], name: "actor_critic" });
  const slices = new Map<string, { shape: number[]; data: Float32Array }>();
  let o = 0;
  for (const e of net.layout.entries) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    slices.set(e.name, { shape: e.shape, data: params.subarray(o, o + n) });
    o += n;
  }
  for (const layer of named) {
    const k = slices.get(`${layer.name}/kernel`)!, b = slices.get(`${layer.name}/bias`)!;
    const ts = [tf.tensor(k.data, k.shape), tf.tensor(b.data, b.shape)];
    layer.setWeights(ts);
    tf.dispose(ts);
  }
  return model;
}

/** Write `<dir>/model.json` + `<dir>/weights.bin`. */
export async function saveActorCritic(net: ActorCritic, params: Float32Array, dir: string): Promise<void> {
  await tf.ready();
  await writeModelFiles(toLayersModel(net, params), dir);
}

