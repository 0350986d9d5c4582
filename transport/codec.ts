/**
 * Wire codec for everything that crosses a process boundary.
 *
 * Frame: 12-byte header + body.
 *   0-1  magic "FR"          2  version (1)      3  kind (1 transitions, 2 weights, 3 global)
 *   4    flags (bit0: body deflated)   5-7 reserved (0)   8-11 CRC-32 of body, little endian
 * Body: msgpackr (moreTypes) map. Every numeric column travels as a Uint8Array of little-endian
 * bytes (floats byte-shuffled for transitions, which deflate 2-3× better), so msgpackr never sees
 * a Float32Array. Transition batches are deflated (fflate); weights are not (they barely compress).
 *
 * Decoding validates everything before returning: frame, checksum, size limits, schema, column
 * sizes against n and obsDim, finiteness, id syntax, layout hash. Failures throw CodecError with
 * a reason code; callers catch, count and drop. No half-built object ever escapes.
 *
 * Signatures (weights and global model): an optional `sig` field (bin, 64 bytes) holds an Ed25519
 * signature over signedBytes(): a domain tag, the kind, the message's scalar fields and the exact
 * params bytes, so a frame altered anywhere that matters (and its CRC recomputed) no longer
 * verifies. The field is absent when the sender has no key; the wire version stays 2 (an older
 * decoder ignores the extra map key). Whether a signature is required is the receiver's policy.
 */
import { sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";
import { Packr } from "msgpackr";
import { deflateSync, Inflate } from "fflate";
import { crc32 } from "./crc32";
import { CodecError } from "../core/errors";
import { layoutHash, layoutSize, type ParamEntry, type ParamLayout } from "../core/params";
import type { TransitionBatch } from "../core/batch";

/** 2: numeric columns are plain MessagePack `bin` (1 used msgpackr's typed-array extension 116, opaque to other MessagePack libraries). */
export const WIRE_VERSION = 2;
export const Kind = { Transitions: 1, Weights: 2, Global: 3 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
const HEADER = 12;
const FLAG_DEFLATED = 1;

export interface CodecLimits {
  /** Max bytes of a frame on the wire and of an inflated body. */
  maxBytes: number;
  maxRows: number;
  maxObsDim: number;
  maxParams: number;
}
export const DEFAULT_LIMITS: CodecLimits = { maxBytes: 16 << 20, maxRows: 65536, maxObsDim: 4096, maxParams: 8 << 20 };

/** Actor ids are one NATS subject token: letters, digits, '_' and '-'. */
export const ACTOR_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const ENV_ID = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/;

export interface TransitionMessage {
  actor: string;
  env: string;
  seq: number;
  /** Sender's wall time (ms since epoch). */
  ts: number;
  batch: TransitionBatch;
}

export interface WeightsMessage {
  actor: string;
  /** Ed25519 signature over signedWeightsBytes() (absent when unsigned). */
  sig?: Uint8Array;
  /** The sender's model version (its local update count or the global version it last merged). */
  version: number;
  /** Environment samples behind these weights (FedAvg weighting). */
  samples: number;
  ts: number;
  layout: ParamLayout;
  params: Float32Array;
}

export interface GlobalModelMessage {
  /** Ed25519 signature over signedGlobalBytes() (absent when unsigned). */
  sig?: Uint8Array;
  version: number;
  round: number;
  ts: number;
  layout: ParamLayout;
  params: Float32Array;
}

// Plain MessagePack: no msgpackr records or extensions, byte columns as `bin`, so any MessagePack
// implementation (Python's msgpack, …) reads the body.
const packr = new Packr({ moreTypes: false, useRecords: false, mapsAsObjects: true });

// ---------- byte helpers ----------

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}
function bytesF32(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
/** Byte-shuffle 4-byte words: all byte-0s, then all byte-1s, ... (blosc's trick). */
function shuffle4(src: Uint8Array): Uint8Array {
  const n = src.length >> 2;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < n; i++) {
    const s = i << 2;
    out[i] = src[s]!;
    out[n + i] = src[s + 1]!;
    out[2 * n + i] = src[s + 2]!;
    out[3 * n + i] = src[s + 3]!;
  }
  return out;
}
function unshuffle4(src: Uint8Array, out = new Uint8Array(src.length)): Uint8Array {
  const n = src.length >> 2;
  for (let i = 0; i < n; i++) {
    const s = i << 2;
    out[s] = src[i]!;
    out[s + 1] = src[n + i]!;
    out[s + 2] = src[2 * n + i]!;
    out[s + 3] = src[3 * n + i]!;
  }
  return out;
}
function i32Bytes(a: Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}
/** Unshuffled straight into the typed array's bytes (one allocation, one pass). */
function unshuffledF32(src: Uint8Array): Float32Array {
  const out = new Float32Array(src.length >> 2);
  unshuffle4(src, new Uint8Array(out.buffer));
  return out;
}
function unshuffledI32(src: Uint8Array): Int32Array {
  const out = new Int32Array(src.length >> 2);
  unshuffle4(src, new Uint8Array(out.buffer));
  return out;
}

function frame(kind: Kind, body: Uint8Array, deflated: boolean): Uint8Array {
  const out = new Uint8Array(HEADER + body.length);
  out[0] = 0x46; out[1] = 0x52; out[2] = WIRE_VERSION; out[3] = kind; out[4] = deflated ? FLAG_DEFLATED : 0;
  new DataView(out.buffer).setUint32(8, crc32(body), true);
  out.set(body, HEADER);
  return out;
}

/**
 * Inflates at most `max` bytes: the input is fed in 8 KiB slices and inflation stops at the first
 * slice that overshoots, so a bomb costs at most ~max + 8.5 MiB of output (deflate expands a KiB
 * to at most ~1 MiB), not its full size (a 1 MB message inflating to 1 GiB took 23 s and 3 GB
 * before). A typical batch (≈ 7 KB) is one slice: 1 KiB slices made fflate's stream re-buffer
 * on every push and cost 4–5 µs per transition (bench/throughput.ts profile); 8 KiB 1.3 µs.
 */
function inflateBounded(data: Uint8Array, max: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let over = false;
  const inf = new Inflate((chunk) => {
    if (over) return;
    total += chunk.length;
    if (total > max) over = true;
    else chunks.push(chunk);
  });
  const SLICE = 8192;
  try {
    for (let o = 0; o < data.length && !over; o += SLICE) inf.push(data.subarray(o, Math.min(o + SLICE, data.length)), o + SLICE >= data.length);
  } catch (e) {
    if (!over) throw new CodecError("corrupt", `deflate stream: ${(e as Error).message}`);
  }
  if (over) throw new CodecError("too_large", `inflated body exceeds ${max} bytes`);
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

/** Parse and check the frame; returns the (inflated) msgpack body decoded to a plain object. */
function openFrame(bytes: Uint8Array, expect: Kind, limits: CodecLimits): Record<string, unknown> {
  if (!(bytes instanceof Uint8Array)) throw new CodecError("bad_frame", "payload is not bytes");
  if (bytes.length > limits.maxBytes) throw new CodecError("too_large", `${bytes.length} bytes > max ${limits.maxBytes}`);
  if (bytes.length < HEADER) throw new CodecError("bad_frame", `${bytes.length} bytes is shorter than the ${HEADER}-byte header`);
  if (bytes[0] !== 0x46 || bytes[1] !== 0x52) throw new CodecError("bad_frame", "bad magic");
  if (bytes[2] !== WIRE_VERSION) throw new CodecError("bad_version", `wire version ${bytes[2]}, expected ${WIRE_VERSION}`);
  if (bytes[3] !== expect) throw new CodecError("bad_kind", `message kind ${bytes[3]}, expected ${expect}`);
  const flags = bytes[4]!;
  if ((flags & ~FLAG_DEFLATED) !== 0 || bytes[5] || bytes[6] || bytes[7]) throw new CodecError("bad_frame", "reserved bits set");
  const body = bytes.subarray(HEADER);
  const crc = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (crc32(body) !== crc) throw new CodecError("checksum", "CRC-32 mismatch (truncated or corrupted payload)");
  const raw = flags & FLAG_DEFLATED ? inflateBounded(body, limits.maxBytes) : body;
  let obj: unknown;
  try {
    obj = packr.unpack(raw);
  } catch (e) {
    throw new CodecError("corrupt", `msgpack: ${(e as Error).message}`);
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new CodecError("schema", "body is not a map");
  return obj as Record<string, unknown>;
}

// ---------- field checks ----------

function str(o: Record<string, unknown>, k: string, re: RegExp): string {
  const v = o[k];
  if (typeof v !== "string") throw new CodecError("schema", `${k} must be a string`);
  if (!re.test(v)) throw new CodecError("bad_id", `${k} ${JSON.stringify(v.slice(0, 80))} is not a valid id`);
  return v;
}
function uint(o: Record<string, unknown>, k: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw new CodecError("schema", `${k} must be an integer in [0, ${max}], got ${String(v)}`);
  return v;
}
function num(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== "number") throw new CodecError("schema", `${k} must be a number`);
  if (!Number.isFinite(v)) throw new CodecError("non_finite", `${k} is not finite`);
  return v;
}
function bytesField(o: Record<string, unknown>, k: string, len: number): Uint8Array {
  const v = o[k];
  if (!(v instanceof Uint8Array)) throw new CodecError("schema", `${k} must be binary`);
  if (v.length !== len) throw new CodecError("size_mismatch", `${k} has ${v.length} bytes, expected ${len}`);
  return v;
}
function assertFinite(a: Float32Array, what: string): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw new CodecError("non_finite", `${what}[${i}] is ${a[i]}`);
}

function parseLayout(v: unknown, limits: CodecLimits): ParamLayout {
  if (typeof v !== "object" || v === null) throw new CodecError("schema", "layout must be a map");
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.entries) || o.entries.length === 0 || o.entries.length > 1024) throw new CodecError("schema", "layout.entries must be a non-empty list");
  const entries: ParamEntry[] = [];
  for (const e of o.entries as unknown[]) {
    const r = e as Record<string, unknown> | null;
    if (!r || typeof r.name !== "string" || r.name.length > 128 || !Array.isArray(r.shape) || r.shape.length > 8) throw new CodecError("schema", "layout entry must be {name, shape}");
    const shape = r.shape as unknown[];
    if (!shape.every((x) => typeof x === "number" && Number.isInteger(x) && x > 0 && x <= limits.maxParams)) throw new CodecError("schema", `layout entry ${r.name} has a bad shape`);
    entries.push({ name: r.name, shape: shape as number[] });
  }
  const hash = o.hash;
  if (typeof hash !== "string" || hash !== layoutHash(entries)) throw new CodecError("layout_mismatch", "layout hash does not match its entries");
  if (layoutSize(entries) > limits.maxParams) throw new CodecError("too_large", `layout has more than ${limits.maxParams} parameters`);
  return { entries, hash };
}

function checkLayoutAgainst(layout: ParamLayout, expected?: ParamLayout): void {
  if (expected && layout.hash !== expected.hash) throw new CodecError("layout_mismatch", `layout ${layout.hash} does not match this model's ${expected.hash}`);
}

// ---------- transitions ----------

export function encodeTransitions(m: TransitionMessage, level: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 = 6): Uint8Array {
  const { batch: b } = m;
  const d = b.obsDim;
  // nextObs[i] usually equals obs[i+1]; ship only the rows where it does not.
  const nextMask = new Uint8Array(b.n);
  let extra = 0;
  for (let i = 0; i < b.n; i++) {
    let same = i + 1 < b.n;
    for (let k = 0; same && k < d; k++) if (!Object.is(b.nextObs[i * d + k], b.obs[(i + 1) * d + k])) same = false;
    if (!same) { nextMask[i] = 1; extra++; }
  }
  const nextExtra = new Float32Array(extra * d);
  for (let i = 0, j = 0; i < b.n; i++) if (nextMask[i]) nextExtra.set(b.nextObs.subarray(i * d, i * d + d), d * j++);
  const body = packr.pack({
    actor: m.actor, env: m.env, seq: m.seq, ts: m.ts, n: b.n, d,
    obs: shuffle4(f32Bytes(b.obs.subarray(0, b.n * d))),
    nextMask,
    nextExtra: shuffle4(f32Bytes(nextExtra)),
    actions: shuffle4(i32Bytes(b.actions.subarray(0, b.n))),
    rewards: shuffle4(f32Bytes(b.rewards.subarray(0, b.n))),
    terminated: b.terminated.slice(0, b.n),
    truncated: b.truncated.slice(0, b.n),
  });
  return frame(Kind.Transitions, deflateSync(body, { level }), true);
}

export interface TransitionExpectations {
  obsDim?: number;
  actionCount?: number;
}

export function decodeTransitions(bytes: Uint8Array, expect: TransitionExpectations = {}, limits: CodecLimits = DEFAULT_LIMITS): TransitionMessage {
  const o = openFrame(bytes, Kind.Transitions, limits);
  const actor = str(o, "actor", ACTOR_ID);
  const env = str(o, "env", ENV_ID);
  const seq = uint(o, "seq");
  const ts = num(o, "ts");
  const n = uint(o, "n", limits.maxRows);
  const d = uint(o, "d", limits.maxObsDim);
  if (n === 0) throw new CodecError("schema", "empty batch");
  if (d === 0) throw new CodecError("schema", "obsDim must be positive");
  if (expect.obsDim !== undefined && d !== expect.obsDim) throw new CodecError("size_mismatch", `obsDim ${d}, expected ${expect.obsDim}`);
  const nextMask = bytesField(o, "nextMask", n);
  let extra = 0;
  for (let i = 0; i < n; i++) {
    if (nextMask[i]! > 1) throw new CodecError("schema", "nextMask must be 0/1");
    extra += nextMask[i]!;
  }
  if (!nextMask[n - 1]) throw new CodecError("schema", "last row must carry its nextObs");
  const obs = unshuffledF32(bytesField(o, "obs", n * d * 4));
  const nextExtra = unshuffledF32(bytesField(o, "nextExtra", extra * d * 4));
  const actions = unshuffledI32(bytesField(o, "actions", n * 4));
  const rewards = unshuffledF32(bytesField(o, "rewards", n * 4));
  const terminated = bytesField(o, "terminated", n).slice();
  const truncated = bytesField(o, "truncated", n).slice();
  for (let i = 0; i < n; i++) {
    if (terminated[i]! > 1 || truncated[i]! > 1) throw new CodecError("schema", "terminated/truncated must be 0/1");
    const a = actions[i]!;
    if (a < 0 || (expect.actionCount !== undefined && a >= expect.actionCount)) throw new CodecError("schema", `action ${a} out of range`);
  }
  assertFinite(obs, "obs");
  assertFinite(nextExtra, "nextObs");
  assertFinite(rewards, "rewards");
  const nextObs = new Float32Array(n * d);
  for (let i = 0, j = 0; i < n; i++) {
    if (nextMask[i]) nextObs.set(nextExtra.subarray(j * d, ++j * d), i * d);
    else nextObs.set(obs.subarray((i + 1) * d, (i + 2) * d), i * d);
  }
  return { actor, env, seq, ts, batch: { n, obsDim: d, obs, actions, rewards, nextObs, terminated, truncated } };
}

// ---------- signatures ----------

const SIG_BYTES = 64;
const enc = new TextEncoder();

function signedBytes(tag: string, scalars: (number | string)[], layoutHashStr: string, params: Float32Array): Uint8Array {
  const head = enc.encode(`${tag}\n${scalars.map(String).join("\n")}\n${layoutHashStr}\n`);
  const body = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
/** What a weights signature covers: actor, version, samples, ts, layout hash, the params bytes. */
export function signedWeightsBytes(m: Omit<WeightsMessage, "sig">): Uint8Array {
  return signedBytes("fedrl-weights-v2", [m.actor, m.version, m.samples, m.ts], m.layout.hash, m.params);
}
/** What a global-model signature covers: version, round, ts, layout hash, the params bytes. */
export function signedGlobalBytes(m: Omit<GlobalModelMessage, "sig">): Uint8Array {
  return signedBytes("fedrl-global-v2", [m.version, m.round, m.ts], m.layout.hash, m.params);
}
/** Ed25519 signature (64 bytes). */
export function signBytes(data: Uint8Array, key: KeyObject): Uint8Array {
  return new Uint8Array(edSign(null, data, key));
}
/** True when `sig` is a valid Ed25519 signature of `data` under `key` (never throws). */
export function verifyBytes(data: Uint8Array, sig: Uint8Array | undefined, key: KeyObject): boolean {
  if (!sig || sig.length !== SIG_BYTES) return false;
  try {
    return edVerify(null, data, key, sig);
  } catch {
    return false;
  }
}
function sigField(o: Record<string, unknown>): Uint8Array | undefined {
  const v = o.sig;
  if (v === undefined || v === null) return undefined;
  if (!(v instanceof Uint8Array) || v.length !== SIG_BYTES) throw new CodecError("schema", `sig must be ${SIG_BYTES} bytes of binary`);
  return v;
}

// ---------- weights / global model ----------

function checkParams(o: Record<string, unknown>, layout: ParamLayout): Float32Array {
  const params = bytesF32(bytesField(o, "params", layoutSize(layout.entries) * 4));
  assertFinite(params, "params");
  return params;
}

/** Encodes weights; with `key`, signs them (the message's own `sig` is used otherwise). */
export function encodeWeights(m: WeightsMessage, key?: KeyObject): Uint8Array {
  if (m.params.length !== layoutSize(m.layout.entries)) throw new CodecError("size_mismatch", "params length does not match layout");
  const sig = key ? signBytes(signedWeightsBytes(m), key) : m.sig;
  const body = packr.pack({
    actor: m.actor, version: m.version, samples: m.samples, ts: m.ts,
    layout: { entries: m.layout.entries, hash: m.layout.hash }, params: f32Bytes(m.params),
    ...(sig ? { sig } : {}),
  });
  return frame(Kind.Weights, body, false);
}

export function decodeWeights(bytes: Uint8Array, expected?: ParamLayout, limits: CodecLimits = DEFAULT_LIMITS): WeightsMessage {
  const o = openFrame(bytes, Kind.Weights, limits);
  const actor = str(o, "actor", ACTOR_ID);
  const version = uint(o, "version");
  const samples = uint(o, "samples");
  const ts = num(o, "ts");
  const sig = sigField(o);
  const layout = parseLayout(o.layout, limits);
  checkLayoutAgainst(layout, expected);
  return { actor, version, samples, ts, layout, params: checkParams(o, layout), ...(sig ? { sig } : {}) };
}

/** Encodes a global model; with `key`, signs it (the message's own `sig` is used otherwise). */
export function encodeGlobal(m: GlobalModelMessage, key?: KeyObject): Uint8Array {
  if (m.params.length !== layoutSize(m.layout.entries)) throw new CodecError("size_mismatch", "params length does not match layout");
  const sig = key ? signBytes(signedGlobalBytes(m), key) : m.sig;
  const body = packr.pack({
    version: m.version, round: m.round, ts: m.ts,
    layout: { entries: m.layout.entries, hash: m.layout.hash }, params: f32Bytes(m.params),
    ...(sig ? { sig } : {}),
  });
  return frame(Kind.Global, body, false);
}

export function decodeGlobal(bytes: Uint8Array, expected?: ParamLayout, limits: CodecLimits = DEFAULT_LIMITS): GlobalModelMessage {
  const o = openFrame(bytes, Kind.Global, limits);
  const version = uint(o, "version");
  const round = uint(o, "round");
  const ts = num(o, "ts");
  const sig = sigField(o);
  const layout = parseLayout(o.layout, limits);
  checkLayoutAgainst(layout, expected);
  return { version, round, ts, layout, params: checkParams(o, layout), ...(sig ? { sig } : {}) };
}
