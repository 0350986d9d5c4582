/**
 * numpy-compatible random numbers: `np.random.default_rng(seed)` ==
 * `Generator(PCG64(SeedSequence(seed)))`, bit for bit.
 *
 * - `seedSequenceState(seed, nWords)` is numpy's SeedSequence (pool size 4,
 *   hashmix/mix as in numpy/random/bit_generator.pyx), `generate_state` as uint32 words.
 * - `PCG64` is the 128-bit LCG with XSL-RR output, seeded like numpy's
 *   `pcg64_set_seed`. The 128-bit state is held in eight 16-bit limbs of plain
 *   numbers (no BigInt on the hot path), so a draw costs a few dozen integer ops.
 * - `NumpyRandom.uniform(lo, hi)` = `lo + (hi - lo) * ((next64 >> 11) * 2^-53)`, as
 *   numpy's `Generator.uniform`.
 */
import { randomFillSync } from "node:crypto";
import type { RandomSource } from "./types";

const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const XSHIFT = 16;
const POOL_SIZE = 4;

/** numpy's `_coerce_to_uint32_array` for a non-negative integer: little-endian 32-bit words. */
function intToUint32Words(seed: number | bigint): number[] {
  let v = BigInt(seed);
  if (v < 0n) throw new RangeError(`seed must be non-negative, got ${seed}`);
  if (v === 0n) return [0];
  const out: number[] = [];
  while (v > 0n) {
    out.push(Number(v & 0xffffffffn));
    v >>= 32n;
  }
  return out;
}

/** numpy SeedSequence(entropy).generate_state(nWords, uint32). */
export function seedSequenceState(seed: number | bigint, nWords: number): Uint32Array {
  const entropy = intToUint32Words(seed);
  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    value = (value ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    return (value ^ (value >>> XSHIFT)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    return (r ^ (r >>> XSHIFT)) >>> 0;
  };
  const pool = new Uint32Array(POOL_SIZE);
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = hashmix(i < entropy.length ? entropy[i]! : 0);
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst]!, hashmix(pool[src]!));
    }
  }
  for (let src = POOL_SIZE; src < entropy.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst]!, hashmix(entropy[src]!));
  }
  const state = new Uint32Array(nWords);
  let hc = INIT_B;
  for (let i = 0; i < nWords; i++) {
    let v = (pool[i % POOL_SIZE]! ^ hc) >>> 0;
    hc = Math.imul(hc, MULT_B) >>> 0;
    v = Math.imul(v, hc) >>> 0;
    state[i] = (v ^ (v >>> XSHIFT)) >>> 0;
  }
  return state;
}

// 0x2360ed051fc65da44385df649fccf645 as 16-bit limbs, least significant first.
const MULT = [0xf645, 0x9fcc, 0xdf64, 0x4385, 0x5da4, 0x1fc6, 0xed05, 0x2360] as const;
const M0 = MULT[0], M1 = MULT[1], M2 = MULT[2], M3 = MULT[3];
const M4 = MULT[4], M5 = MULT[5], M6 = MULT[6], M7 = MULT[7];

function limbsFromBig(v: bigint, out: Float64Array): void {
  for (let i = 0; i < 8; i++) {
    out[i] = Number(v & 0xffffn);
    v >>= 16n;
  }
}

function bigFromLimbs(l: ArrayLike<number>): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 16n) | BigInt(l[i]!);
  return v;
}

/** numpy's PCG64 (pcg_setseq_128_xsl_rr_64). */
export class PCG64 {
  /** state, 8 × 16-bit limbs, little-endian */
  private readonly s = new Float64Array(8);
  /** increment (always odd), 8 × 16-bit limbs */
  private readonly inc = new Float64Array(8);
  /** output of the last `nextHalves` call: high and low 32 bits */
  hi = 0;
  lo = 0;

  /** pcg64_srandom_r(initstate, initseq) */
  constructor(initstate: bigint, initseq: bigint) {
    const MASK = (1n << 128n) - 1n;
    limbsFromBig(0n, this.s);
    limbsFromBig(((initseq << 1n) | 1n) & MASK, this.inc);
    this.stepState();
    limbsFromBig((bigFromLimbs(this.s) + (initstate & MASK)) & MASK, this.s);
    this.stepState();
  }

  /** numpy: `PCG64(SeedSequence(seed))` — generate_state(4, uint64) → initstate = w0:w1, initseq = w2:w3. */
  static fromSeed(seed: number | bigint): PCG64 {
    const w = seedSequenceState(seed, 8);
    const u64 = (k: number) => (BigInt(w[2 * k + 1]!) << 32n) | BigInt(w[2 * k]!);
    // PCG_128BIT_CONSTANT(high, low): seed[0] is the high half.
    return new PCG64((u64(0) << 64n) | u64(1), (u64(2) << 64n) | u64(3));
  }

  /** state = state * MULT + inc (mod 2^128) */
  private stepState(): void {
    const s = this.s, c = this.inc;
    const a0 = s[0]!, a1 = s[1]!, a2 = s[2]!, a3 = s[3]!, a4 = s[4]!, a5 = s[5]!, a6 = s[6]!, a7 = s[7]!;
    let t: number, carry: number;
    t = a0 * M0 + c[0]!;
    s[0] = t % 65536; carry = Math.floor(t / 65536);
    t = carry + a0 * M1 + a1 * M0 + c[1]!;
    s[1] = t % 65536; carry = Math.floor(t / 65536);
    t = carry + a0 * M2 + a1 * M1 + a2 * M0 + c[2]!;
    s[2] = t % 65536; carry = Math.floor(t / 65536);
    t = carry + a0 * M3 + a1 * M2 + a2 * M1 + a3 * M0 + c[3]!;
    s[3] = t % 65536; carry = Math.floor(t / 65536);
    t = carry + a0 * M4 + a1 * M3 + a2 * M2 + a3 * M1 + a4 * M0 + c[4]!;
    s[4] = t % 65536; carry = Math.floor(t / 65536);
    t = carry + a0 * M5 + a1 * M4 + a2 * M3 + a3 * M2 + a4 * M1 + a5 * M0 + c[5]!;
    s[5] = t % 65536; carry = Math.floor(t / 65536);
    t = carry + a0 * M6 + a1 * M5 + a2 * M4 + a3 * M3 + a4 * M2 + a5 * M1 + a6 * M0 + c[6]!;
    s[6] = t % 65536; carry = Math.floor(t / 65536);
    t = carry + a0 * M7 + a1 * M6 + a2 * M5 + a3 * M4 + a4 * M3 + a5 * M2 + a6 * M1 + a7 * M0 + c[7]!;
    s[7] = t % 65536;
  }

  /** Advance and compute the 64-bit output into `hi`/`lo` (uint32 each). */
  nextHalves(): void {
    this.stepState();
    const s = this.s;
    // XSL: high64 ^ low64, as two 32-bit words
    let xh = ((s[7]! * 65536 + s[6]!) ^ (s[3]! * 65536 + s[2]!)) >>> 0;
    let xl = ((s[5]! * 65536 + s[4]!) ^ (s[1]! * 65536 + s[0]!)) >>> 0;
    // RR: rotate right by the top 6 bits of the state
    let r = s[7]! >>> 10;
    if (r >= 32) {
      const t = xh; xh = xl; xl = t; r -= 32;
    }
    if (r !== 0) {
      const nh = ((xh >>> r) | (xl << (32 - r))) >>> 0;
      const nl = ((xl >>> r) | (xh << (32 - r))) >>> 0;
      xh = nh; xl = nl;
    }
    this.hi = xh;
    this.lo = xl;
  }

  /** Next raw 64-bit output (BigInt; for tests and diagnostics). */
  next64(): bigint {
    this.nextHalves();
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  private hasUint32 = false;
  private uinteger = 0;
  /** numpy's pcg64_next32: low half of a fresh 64-bit output, then the buffered high half. */
  nextUint32(): number {
    if (this.hasUint32) {
      this.hasUint32 = false;
      return this.uinteger;
    }
    this.nextHalves();
    this.hasUint32 = true;
    this.uinteger = this.hi;
    return this.lo;
  }

  /** numpy's next_double: (next64 >> 11) * 2^-53, in [0, 1). */
  nextDouble(): number {
    this.nextHalves();
    return (this.hi * 2097152 + (this.lo >>> 11)) * 1.1102230246251565e-16;
  }
}

/** `np.random.default_rng(seed)` restricted to what the envs need. */
export class NumpyRandom implements RandomSource {
  constructor(readonly bitGenerator: PCG64) {}
  static fromSeed(seed: number | bigint): NumpyRandom {
    return new NumpyRandom(PCG64.fromSeed(seed));
  }
  /** Like `default_rng()` without a seed: 128 bits of OS entropy. */
  static fromEntropy(): NumpyRandom {
    const w = randomFillSync(new Uint32Array(4));
    let v = 0n;
    for (const x of w) v = (v << 32n) | BigInt(x);
    return NumpyRandom.fromSeed(v);
  }
  /** `Generator.uniform(lo, hi)` */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.bitGenerator.nextDouble();
  }
  /**
   * `Generator.integers(lo, hi)` (int64, high exclusive) for ranges below 2^32:
   * numpy's buffered Lemire rejection on 32-bit draws.
   */
  integers(lo: number, hi: number): number {
    const rng = hi - lo - 1;
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || rng < 0) throw new RangeError(`bad range [${lo}, ${hi})`);
    if (rng === 0) return lo;
    if (rng > 0xfffffffe) throw new RangeError("integers: ranges ≥ 2^32 not implemented");
    const rngExcl = rng + 1;
    let m = this.bitGenerator.nextUint32() * rngExcl;
    let leftover = m % 4294967296;
    if (leftover < rngExcl) {
      const threshold = (0xffffffff - rng) % rngExcl;
      while (leftover < threshold) {
        m = this.bitGenerator.nextUint32() * rngExcl;
        leftover = m % 4294967296;
      }
    }
    return lo + Math.floor(m / 4294967296);
  }
  /** `Generator.random()` */
  random(): number {
    return this.bitGenerator.nextDouble();
  }
}

/** Replays a recorded list of `uniform` results (already scaled); throws when exhausted. */
export class RecordedRandom implements RandomSource {
  private i = 0;
  constructor(private readonly draws: readonly number[]) {}
  uniform(_lo: number, _hi: number): number {
    if (this.i >= this.draws.length) {
      throw new Error(`RecordedRandom exhausted after ${this.draws.length} draws`);
    }
    return this.draws[this.i++]!;
  }
  get used(): number {
    return this.i;
  }
  get remaining(): number {
    return this.draws.length - this.i;
  }
}

/** Records every value drawn from an inner source (handy for comparing draw orders). */
export class RecordingRandom implements RandomSource {
  readonly draws: number[] = [];
  constructor(private readonly inner: RandomSource) {}
  uniform(lo: number, hi: number): number {
    const v = this.inner.uniform(lo, hi);
    this.draws.push(v);
    return v;
  }
}
