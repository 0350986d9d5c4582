/**
 * Byzantine actors as link decorators: an attacking actor runs the honest actor's code unchanged;
 * what it sends is corrupted on the way out (and the global models it receives are watched, for
 * the attacks that need θ_global). Attacks after FedPG-BR (Fan et al., NeurIPS 2021: random noise,
 * random action, sign flip) and the poisoning literature (scaled / inflated updates, free riders,
 * reward flips, floods).
 *
 *   noise         weights: i.i.d. N(0, scale²) per parameter (FedPG-BR's RN)
 *   sign-flip     weights: θ_g − scale·(θ_k − θ_g)                (scale default 2)
 *   scaled        weights: scale·θ_k                              (scale default 10)
 *   inflated      weights: θ_k · 1e6 (finite, norm ×1e6)
 *   free-rider    weights: θ_g sent back (no work done)
 *   random-action transitions: actions relabelled uniformly at random (FedPG-BR's RA as data
 *                 poisoning: the rows claim actions the env never took)
 *   reward-flip   transitions: rewards negated
 *   replay-flood  transitions: `scale` batches (default 4) of copies of one state per batch sent
 */
import type { TransitionBatch } from "../core/batch";
import type { Downlink, GlobalModel, Uplink, UplinkStats, WeightsUpload } from "../core/links";
import { Random } from "../core/random";

export const ATTACKS = ["noise", "sign-flip", "scaled", "inflated", "free-rider", "random-action", "reward-flip", "replay-flood"] as const;
export type Attack = (typeof ATTACKS)[number];

/** Attacks on the weights an actor uploads (the others poison its transitions). */
export const WEIGHT_ATTACKS: readonly Attack[] = ["noise", "sign-flip", "scaled", "inflated", "free-rider"];

const DEFAULT_SCALE: Record<Attack, number> = { noise: 1, "sign-flip": 2, scaled: 10, inflated: 1e6, "free-rider": 0, "random-action": 0, "reward-flip": 0, "replay-flood": 4 };

export function isAttack(name: string): name is Attack {
  return (ATTACKS as readonly string[]).includes(name);
}

export interface AttackSettings {
  attack: Attack;
  /** The attack's strength (see the table above); default per attack. */
  scale?: number;
  seed: number;
  actionCount: number;
}

/** Wraps an actor's links so that what it sends is the attack's. */
export function byzantineLinks(up: Uplink, down: Downlink, s: AttackSettings): { uplink: Uplink; downlink: Downlink } {
  const watch = new GlobalWatch(down);
  return { uplink: new ByzantineUplink(up, watch, s), downlink: watch };
}

/** Passes global models through to the actor and remembers the last one. */
class GlobalWatch implements Downlink {
  last: Float32Array | null = null;
  constructor(private readonly inner: Downlink) {}
  get rejected() {
    return this.inner.rejected;
  }
  subscribe(cb: (g: GlobalModel) => void): Promise<void> {
    return this.inner.subscribe((g) => {
      this.last = g.params.slice();
      cb(g);
    });
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

class ByzantineUplink implements Uplink {
  private readonly rng: Random;
  private readonly scale: number;
  constructor(private readonly inner: Uplink, private readonly watch: GlobalWatch, private readonly s: AttackSettings) {
    this.rng = new Random(s.seed);
    this.scale = s.scale ?? DEFAULT_SCALE[s.attack];
  }

  sendWeights(w: WeightsUpload): void {
    this.inner.sendWeights({ ...w, params: corruptWeights(this.s.attack, w.params, this.watch.last, this.scale, this.rng) });
  }

  sendTransitions(batch: TransitionBatch): void {
    const { attack } = this.s;
    if (attack === "replay-flood") {
      for (let k = 0; k < this.scale; k++) this.inner.sendTransitions(floodOf(batch));
      return;
    }
    this.inner.sendTransitions(corruptTransitions(attack, batch, this.s.actionCount, this.rng));
  }

  drain(timeoutMs: number): Promise<number> {
    return this.inner.drain(timeoutMs);
  }
  stats(): UplinkStats {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Standard normal by Box–Muller. */
function gauss(rng: Random): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** The weights an attacker sends in place of θ_k (θ_g: the last global model it received, if any). */
export function corruptWeights(attack: Attack, theta: Float32Array, global: Float32Array | null, scale: number, rng: Random): Float32Array {
  const g = global ?? theta;
  const out = new Float32Array(theta.length);
  switch (attack) {
    case "noise":
      for (let j = 0; j < out.length; j++) out[j] = scale * gauss(rng);
      return out;
    case "sign-flip":
      for (let j = 0; j < out.length; j++) out[j] = g[j]! - scale * (theta[j]! - g[j]!);
      return out;
    case "scaled":
    case "inflated":
      for (let j = 0; j < out.length; j++) out[j] = scale * theta[j]!;
      return out;
    case "free-rider":
      out.set(g);
      return out;
    default:
      return theta;
  }
}

/** The transitions an attacker ships in place of the honest batch. */
export function corruptTransitions(attack: Attack, b: TransitionBatch, actionCount: number, rng: Random): TransitionBatch {
  if (attack === "random-action") {
    const actions = new Int32Array(b.n);
    for (let i = 0; i < b.n; i++) actions[i] = rng.int(actionCount);
    return { ...b, actions };
  }
  if (attack === "reward-flip") return { ...b, rewards: b.rewards.map((r) => -r) };
  return b;
}

/** A batch of the same size made of copies of its first row. */
function floodOf(b: TransitionBatch): TransitionBatch {
  const d = b.obsDim;
  const out = { ...b, obs: new Float32Array(b.obs.length), nextObs: new Float32Array(b.nextObs.length), actions: new Int32Array(b.n).fill(b.actions[0] ?? 0), rewards: new Float32Array(b.n).fill(b.rewards[0] ?? 0), terminated: new Uint8Array(b.n).fill(b.terminated[0] ?? 0), truncated: new Uint8Array(b.n).fill(b.truncated[0] ?? 0) };
  for (let i = 0; i < b.n; i++) {
    out.obs.set(b.obs.subarray(0, d), i * d);
    out.nextObs.set(b.nextObs.subarray(0, d), i * d);
  }
  return out;
}
