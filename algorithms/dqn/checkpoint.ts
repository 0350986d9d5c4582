/**
 * Online network ⇄ tfjs layers-model files (model.json + weights.bin), built with stock tf.layers so
 * `tf.loadLayersModel` reads them back. A dueling network is exported as a functional model whose
 * aggregation Q = V + A − mean(A) is a fixed, non-trainable Dense layer ("dueling_q") over [V, A].
 */
import * as tf from "@tensorflow/tfjs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ParamLayout } from "../../core/params";
import type { QNetwork } from "./network";

function slices(net: QNetwork, p: Float32Array): Map<string, { shape: number[]; data: Float32Array }> {
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  let o = 0;
  for (const e of net.layout.entries) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    m.set(e.name, { shape: e.shape, data: p.subarray(o, o + n) });
    o += n;
  }
  return m;
}

/** Build a tf.LayersModel holding `params` (caller disposes it). */
export function toLayersModel(net: QNetwork, params: Float32Array): tf.LayersModel {
  const { obsDim, numActions, hidden, dueling } = net.spec;
  const w = slices(net, params);
  const input = tf.input({ shape: [obsDim], name: "obs" });
  let x: tf.SymbolicTensor = input;
  const named: tf.layers.Layer[] = [];
  hidden.forEach((h, l) => {
    const layer = tf.layers.dense({ units: h, activation: "relu", name: `dense${l}` });
    named.push(layer);
    x = layer.apply(x) as tf.SymbolicTensor;
  });
  let out: tf.SymbolicTensor;
  let agg: tf.layers.Layer | null = null;
  if (dueling) {
    const vl = tf.layers.dense({ units: 1, name: "value" });
    const al = tf.layers.dense({ units: numActions, name: "advantage" });
    named.push(vl, al);
    const va = tf.layers.concatenate({ name: "value_advantage" }).apply([vl.apply(x) as tf.SymbolicTensor, al.apply(x) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    agg = tf.layers.dense({ units: numActions, useBias: false, trainable: false, name: "dueling_q" });
    out = agg.apply(va) as tf.SymbolicTensor;
  } else {
    const ol = tf.layers.dense({ units: numActions, name: `dense${hidden.length}` });
    named.push(ol);
    out = ol.apply(x) as tf.SymbolicTensor;
  }
  const model = tf.model({ inputs: input, outputs: out, name: dueling ? "dueling_q_network" : "q_network" });
  for (const layer of named) {
    const k = w.get(`${layer.name}/kernel`)!;
    const b = w.get(`${layer.name}/bias`)!;
    const ts = [tf.tensor(k.data, k.shape), tf.tensor(b.data, b.shape)];
    layer.setWeights(ts);
    tf.dispose(ts);
  }
  if (agg) {
    // [V, A_0..A_{n-1}] → Q_j = V + A_j − mean(A)
    const K = new Float32Array((numActions + 1) * numActions);
    for (let j = 0; j < numActions; j++) {
      K[j] = 1;
      for (let k = 0; k < numActions; k++) K[(1 + k) * numActions + j] = (k === j ? 1 : 0) - 1 / numActions;
    }
    const t = tf.tensor(K, [numActions + 1, numActions]);
    agg.setWeights([t]);
    t.dispose();
  }
  return model;
}

function joinWeightData(d: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(d)) return new Uint8Array(d);
  const n = d.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const b of d) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

/** Write `<dir>/model.json` + `<dir>/weights.bin` for the online network. */
export async function saveLayersModel(net: QNetwork, params: Float32Array, dir: string): Promise<void> {
  await tf.ready(); // a registered-but-uninitialised backend (e.g. wasm just imported) would throw
  await writeModelFiles(toLayersModel(net, params), dir);
}

/** Writes a layers model as `<dir>/model.json` + `<dir>/weights.bin` (what tf.loadLayersModel reads) and disposes it. */
export async function writeModelFiles(model: tf.LayersModel, dir: string): Promise<void> {
  try {
    await model.save(
      tf.io.withSaveHandler(async (art) => {
        const json = {
          format: "layers-model",
          generatedBy: `fedrl (TensorFlow.js tfjs-layers v${tf.version_layers})`,
          convertedBy: null,
          modelTopology: art.modelTopology,
          weightsManifest: [{ paths: ["weights.bin"], weights: art.weightSpecs }],
        };
        await writeFile(join(dir, "model.json"), JSON.stringify(json));
        await writeFile(join(dir, "weights.bin"), joinWeightData(art.weightData as ArrayBuffer | ArrayBuffer[]));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
      }),
    );
  } finally {
    model.dispose();
  }
}

/** An IOHandler reading model.json + weights.bin from a directory (for stock tf.loadLayersModel). */
export function dirHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
      const manifest = json.weightsManifest as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
      const bufs = await Promise.all(manifest.flatMap((g) => g.paths.map((p) => readFile(join(dir, p)))));
      const all = Buffer.concat(bufs);
      return {
        modelTopology: json.modelTopology,
        weightSpecs: manifest.flatMap((g) => g.weights),
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
      };
    },
  };
}

/**
 * The flat parameters (in `net`'s layout order) from model.json + weights.bin, without tensors;
 * every weight checked by name and size. Any network with a layout reads this way (DQN, PPO).
 */
export async function loadLayersParams(net: { size: number; layout: ParamLayout }, dir: string): Promise<Float32Array> {
  const json = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
  const manifest = json.weightsManifest as { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
  const bin = Buffer.concat(await Promise.all(manifest.flatMap((g) => g.paths.map((p) => readFile(join(dir, p))))));
  const byName = new Map<string, Float32Array>();
  let o = 0;
  for (const spec of manifest.flatMap((g) => g.weights)) {
    if (spec.dtype !== "float32") throw new Error(`checkpoint weight ${spec.name}: dtype ${spec.dtype} unsupported`);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (o + 4 * n > bin.length) throw new Error(`checkpoint ${dir}: weights.bin is shorter than its manifest`);
    byName.set(spec.name, new Float32Array(bin.buffer.slice(bin.byteOffset + o, bin.byteOffset + o + 4 * n)));
    o += 4 * n;
  }
  const out = new Float32Array(net.size);
  let p = 0;
  for (const e of net.layout.entries) {
    const d = byName.get(e.name);
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (!d || d.length !== n) throw new Error(`checkpoint ${dir}: weight ${e.name} missing or wrong size`);
    out.set(d, p);
    p += n;
  }
  return out;
}
