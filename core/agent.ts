/**
 * The algorithm-neutral agent port (Acme-like) and the builder that makes agents of one algorithm.
 * Nodes and launchers see only these; an algorithm (algorithms/<name>/) implements them and is
 * registered by name in algorithms/registry.ts.
 */
import type { Transition, TransitionBatch } from "./batch";
import type { ParamLayout } from "./params";

export interface Space {
  obsDim: number;
  actionCount: number;
}

export type ActMode = "explore" | "greedy";

/** Named parameter groups (DQN: online + target; PPO: policy), flat float32 in the layout's order. */
export type WeightGroups = Record<string, Float32Array>;

export interface Progress {
  /** Env steps observed. */
  steps: number;
  /** Episodes finished. */
  episodes: number;
  /** Gradient steps taken. */
  updates: number;
  /** Exploration rate, for algorithms that have one. */
  epsilon?: number;
}

/** Anything that holds named weight groups: an agent, or the FedAvg server's bare model. */
export interface WeightsHolder {
  /** Layout of every group (groups of one agent share it). */
  layout(): ParamLayout;
  /** Copies of every group. */
  weights(): WeightGroups;
  /** Replaces the groups named (others untouched). */
  setWeights(w: WeightGroups): void;
}

export interface Saveable {
  save(dir: string): Promise<void>;
  restore(dir: string): Promise<void>;
}

export interface Agent extends WeightsHolder, Saveable {
  act(obs: ArrayLike<number>, mode: ActMode): number;
  /** Records one env step (local replay, n-step, exploration schedule). */
  observe(t: Transition): void;
  /** Learns locally when due; the loss, or null when it did not learn. */
  update(): { loss: number } | null;
  /**
   * One gradient step on an external batch: present only for off-policy algorithms. `weights`
   * (one per row, prioritized replay's importance weights) scale each row's loss; only agents with
   * `rowWeights` true apply them (others refuse a weighted call).
   */
  learn?(batch: TransitionBatch, weights?: Float32Array): { loss: number };
  /** learn() applies per-row weights (DQN: engine "js"; the fused kernels have no per-row weights). */
  readonly rowWeights?: boolean;
  /** Per-row TD error |Q(s,a) − y| under the current weights (off-policy value learners): lets a learner judge a client's data. */
  tdErrors?(batch: TransitionBatch): Float32Array;
  /**
   * The greedy policy's preference for every action on one observation: Q-values (DQN), action
   * log-probabilities (PPO). Detection scores (the preference for blocking over allowing) and
   * explanations read it; optional for algorithms without per-action scores.
   */
  actionScores?(obs: ArrayLike<number>): Float32Array;
  /** ∂ actionScores(obs)[action] / ∂ obs (length obsDim): integrated-gradient explanations. */
  scoreGradient?(obs: ArrayLike<number>, action: number): Float32Array;
  progress(): Progress;
  dispose(): void;
}

/** Makes the agents of one algorithm: the hybrid learner, the actors, an evaluator. */
export interface AlgorithmBuilder<C = unknown> {
  readonly name: string;
  /** Can learn from pooled experience of other policies (the hybrid learner needs it). */
  readonly offPolicy: boolean;
  /** The group clients upload and the global model carries. */
  readonly shipped: string;
  /** Groups a received global model moves besides the shipped one (DQN: the target network). */
  readonly followers: readonly string[];
  /** Validates hyperparameters; throws an Error naming the offending keys. */
  parseConfig(raw: Record<string, unknown>): C;
  makeAgent(space: Space, config: C, seed: number, init?: Float32Array): Agent;
  /**
   * The config of an agent that learns only through `learn(batch)` from rows actors ship (1-step
   * transitions), e.g. the hybrid learner: DQN drops n-step returns there (γⁿ on 1-step rows is wrong).
   */
  externalLearner?(config: C): C;
  /** The layout of the shipped group for this space and config. */
  layout(space: Space, config: C): ParamLayout;
  /** The run's common initial weights of the shipped group: a function of config and seed only. */
  initialWeights(space: Space, config: C, seed: number): Float32Array;
  /** An agent restored from a checkpoint directory written by its save(). */
  load(dir: string): Promise<Agent>;
}

/** A bare weights holder (FedAvg's global model): one shipped group. */
export class WeightsStore implements WeightsHolder {
  private readonly groups: WeightGroups;
  constructor(private readonly lay: ParamLayout, readonly shipped: string, init: Float32Array) {
    this.groups = { [shipped]: init.slice() };
  }
  layout(): ParamLayout {
    return this.lay;
  }
  weights(): WeightGroups {
    return Object.fromEntries(Object.entries(this.groups).map(([k, v]) => [k, v.slice()]));
  }
  setWeights(w: WeightGroups): void {
    for (const [k, v] of Object.entries(w)) {
      const cur = this.groups[k];
      if (!cur) continue;
      if (v.length !== cur.length) throw new Error(`setWeights: ${k} has ${v.length} values, expected ${cur.length}`);
      cur.set(v);
    }
  }
}
