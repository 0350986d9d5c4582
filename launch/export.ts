/**
 * `fedrl export --checkpoint DIR --out DIR`: the policy network of a checkpoint as
 *   model.json + weights.bin  a tfjs layers model: tf.loadLayersModel("file://OUT/model.json")
 *                             (tfjs-node) maps an observation [1, obsDim] to Q-values [1, actions];
 *   weights.json              the same weights as plain JSON, documented in its "format" field.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkpointAlgorithm, loadAgent, resolveCheckpoint } from "./checkpoints";

export const WEIGHTS_FORMAT = "fedrl-weights/1: layout.entries lists each tensor (name, shape) in order; values[name] is that tensor's values, row-major, float32 written as JSON numbers. DQN: the greedy action is argmax of the Q-values of the network the layout describes (obs → dense+relu layers → actions; dueling: value and advantage heads). PPO: policy tower pi_* (obs → hidden layers with config.activation → logits; greedy = argmax) and value tower v_* (→ V(s)).";

export async function exportCheckpoint(checkpoint: string, out: string): Promise<string[]> {
  const dir = resolveCheckpoint(checkpoint);
  const agent = await loadAgent(dir);
  try {
    mkdirSync(out, { recursive: true });
    for (const f of ["model.json", "weights.bin"]) copyFileSync(join(dir, f), join(out, f));
    const layout = agent.layout();
    const flat = agent.weights()[Object.keys(agent.weights())[0]!]!;
    const values: Record<string, number[]> = {};
    let off = 0;
    for (const e of layout.entries) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      values[e.name] = Array.from(flat.subarray(off, off + n));
      off += n;
    }
    const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as { obsDim?: number; numActions?: number; config?: unknown };
    const dqn = agent as Partial<{ obsDim: number; numActions: number; config: unknown }>;
    const doc = { format: WEIGHTS_FORMAT, algorithm: checkpointAlgorithm(dir), source: dir, obsDim: dqn.obsDim ?? state.obsDim, numActions: dqn.numActions ?? state.numActions, config: dqn.config ?? state.config, layout: { hash: layout.hash, entries: layout.entries }, values };
    writeFileSync(join(out, "weights.json"), JSON.stringify(doc));
    return [join(out, "model.json"), join(out, "weights.bin"), join(out, "weights.json")];
  } finally {
    agent.dispose();
  }
}
