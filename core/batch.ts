/**
 * Columnar transition batches: the unit actors ship, replays store and learners train on.
 * obs / nextObs are row-major [n × obsDim].
 */
export interface TransitionBatch {
  n: number;
  obsDim: number;
  obs: Float32Array;
  actions: Int32Array;
  rewards: Float32Array;
  nextObs: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
}

export function allocBatch(n: number, obsDim: number): TransitionBatch {
  return {
    n,
    obsDim,
    obs: new Float32Array(n * obsDim),
    actions: new Int32Array(n),
    rewards: new Float32Array(n),
    nextObs: new Float32Array(n * obsDim),
    terminated: new Uint8Array(n),
    truncated: new Uint8Array(n),
  };
}

/** Copy row `i` of `src` into row `j` of `dst` (same obsDim). */
export function copyRow(src: TransitionBatch, i: number, dst: TransitionBatch, j: number): void {
  const d = src.obsDim;
  dst.obs.set(src.obs.subarray(i * d, i * d + d), j * d);
  dst.nextObs.set(src.nextObs.subarray(i * d, i * d + d), j * d);
  dst.actions[j] = src.actions[i]!;
  dst.rewards[j] = src.rewards[i]!;
  dst.terminated[j] = src.terminated[i]!;
  dst.truncated[j] = src.truncated[i]!;
}

/** Rows [start, end) as a new batch (copies). */
export function sliceBatch(b: TransitionBatch, start: number, end: number): TransitionBatch {
  const d = b.obsDim;
  return {
    n: end - start,
    obsDim: d,
    obs: b.obs.slice(start * d, end * d),
    actions: b.actions.slice(start, end),
    rewards: b.rewards.slice(start, end),
    nextObs: b.nextObs.slice(start * d, end * d),
    terminated: b.terminated.slice(start, end),
    truncated: b.truncated.slice(start, end),
  };
}

/** Rows where keep[i] is true, as a new batch. */
export function filterBatch(b: TransitionBatch, keep: ArrayLike<boolean | number>): TransitionBatch {
  let m = 0;
  for (let i = 0; i < b.n; i++) if (keep[i]) m++;
  const out = allocBatch(m, b.obsDim);
  let j = 0;
  for (let i = 0; i < b.n; i++) if (keep[i]) copyRow(b, i, out, j++);
  return out;
}

/** Concatenate batches of the same obsDim. */
export function concatBatches(batches: readonly TransitionBatch[], obsDim: number): TransitionBatch {
  const n = batches.reduce((s, b) => s + b.n, 0);
  const out = allocBatch(n, obsDim);
  let j = 0;
  for (const b of batches) {
    if (b.obsDim !== obsDim) throw new Error(`concatBatches: obsDim ${b.obsDim} != ${obsDim}`);
    out.obs.set(b.obs, j * obsDim);
    out.nextObs.set(b.nextObs, j * obsDim);
    out.actions.set(b.actions, j);
    out.rewards.set(b.rewards, j);
    out.terminated.set(b.terminated, j);
    out.truncated.set(b.truncated, j);
    j += b.n;
  }
  return out;
}

/** What syntheticBatch draws from (the DQN's Rng, or anything with the same two methods). */
export interface RandomSource {
  next(): number;
  int(n: number): number;
}

/**
 * A batch of random transitions for tests and benchmarks: states uniform in [−1, 1), actions
 * uniform, rewards uniform in [rewards[0], rewards[1]), terminations with probability
 * pTerminated, truncations (drawn only when pTruncated is given) with probability pTruncated.
 */
export function syntheticBatch(
  n: number, obsDim: number, actionCount: number, rng: RandomSource,
  o: { rewards?: [number, number]; pTerminated?: number; pTruncated?: number } = {},
): TransitionBatch {
  const [lo, hi] = o.rewards ?? [0, 1];
  const pTerm = o.pTerminated ?? 0.1;
  const b = allocBatch(n, obsDim);
  for (let i = 0; i < n * obsDim; i++) {
    b.obs[i] = rng.next() * 2 - 1;
    b.nextObs[i] = rng.next() * 2 - 1;
  }
  for (let i = 0; i < n; i++) {
    b.actions[i] = rng.int(actionCount);
    b.rewards[i] = lo + (hi - lo) * rng.next();
    b.terminated[i] = rng.next() < pTerm ? 1 : 0;
    if (o.pTruncated !== undefined) b.truncated[i] = rng.next() < o.pTruncated ? 1 : 0;
  }
  return b;
}

/** One environment step, as an actor observes it. */
export interface Transition {
  obs: ArrayLike<number>;
  action: number;
  reward: number;
  nextObs: ArrayLike<number>;
  terminated: boolean;
  truncated: boolean;
}
