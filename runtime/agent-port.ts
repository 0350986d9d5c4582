/** What the runtime needs from a learning agent (the DQN family implements it). */
import type { ParameterHolder } from "../learners/params";
import type { TransitionBatch } from "../learners/transitions";

export interface Transition {
  obs: Float32Array;
  action: number;
  reward: number;
  nextObs: Float32Array;
  terminated: boolean;
  truncated: boolean;
}

export interface RuntimeAgent extends ParameterHolder {
  /** ε-greedy action. */
  selectAction(obs: ArrayLike<number>): number;
  /** argmax_a Q(obs, a), for evaluation. */
  greedyAction(obs: ArrayLike<number>): number;
  /** Records a transition in the local replay (ends episodes for the ε schedule). */
  observe(t: Transition): void;
  /** Learns from the local replay when due; returns the loss, or null when it did not learn. */
  update(): { loss: number } | null;
  /** One gradient step on an external batch (the global learner's Redis samples). */
  learnOn(batch: TransitionBatch): { loss: number };
  /** The target network's flat weights (copy), and their replacement: a merge moves both networks. */
  getTargetParameters(): Float32Array;
  setTargetParameters(p: Float32Array): void;
  readonly epsilon: number;
  /** Gradient steps taken so far. */
  readonly updates: number;
  save(dir: string): Promise<void>;
  restore(dir: string): Promise<void>;
  dispose(): void;
}
