/**
 * Flat parameter vectors and their layout: the unit that agents expose, the codec ships
 * and the aggregator blends. Pure data; no tensors, no transports.
 */

export interface ParamEntry {
  name: string;
  shape: number[];
}

export interface ParamLayout {
  entries: ParamEntry[];
  /** Short hash of names + shapes; models with different hashes are never mixed. */
  hash: string;
}

export function layoutSize(entries: readonly ParamEntry[]): number {
  let n = 0;
  for (const e of entries) n += e.shape.reduce((a, b) => a * b, 1);
  return n;
}

/** FNV-1a 32-bit over "name:shape;" strings, as 8 hex chars. Stable across processes. */
export function layoutHash(entries: readonly ParamEntry[]): string {
  const text = entries.map((e) => `${e.name}:${e.shape.join("x")};`).join("");
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

export function makeLayout(entries: ParamEntry[]): ParamLayout {
  return { entries: entries.map((e) => ({ name: e.name, shape: [...e.shape] })), hash: layoutHash(entries) };
}

/** target ← τ·source + (1−τ)·target, in place: Polyak averaging, merges and blends all use it. */
export function blendInto(target: Float32Array, source: Float32Array, tau: number): Float32Array {
  for (let i = 0; i < target.length; i++) target[i] = tau * source[i]! + (1 - tau) * target[i]!;
  return target;
}

/** Anything that owns a flat parameter vector (Acme's VariableSource, plus the setter). */
export interface ParameterHolder {
  layout(): ParamLayout;
  getParameters(): Float32Array;
  setParameters(params: Float32Array): void;
}
