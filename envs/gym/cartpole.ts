/**
 * CartPole-v1, a faithful port of Gymnasium's classic_control/cartpole.py
 * (euler integrator, float64 state, float32 observations).
 *
 * Randomness: `reset({ seed })` reseeds a numpy-identical PCG64 (`NumpyRandom`),
 * so seed for seed the initial states equal Gymnasium's. `reset()` without a seed
 * keeps drawing from the current generator (as Gymnasium does). A `random` option
 * injects any `RandomSource` instead (reseeding on `reset({seed})` then replaces it).
 */
import type { Env, RandomSource, ResetOptions, ResetResult, StepResult } from "../types";
import { NumpyRandom } from "../rng";

export interface CartPoleOptions {
  random?: RandomSource;
  /** Gymnasium's `sutton_barto_reward`: 0 per step, −1 on (and after) termination. */
  suttonBartoReward?: boolean;
  /** Alias accepted for Gymnasium's keyword spelling. */
  sutton_barto_reward?: boolean;
}

const GRAVITY = 9.8;
const MASSCART = 1.0;
const MASSPOLE = 0.1;
const TOTAL_MASS = MASSPOLE + MASSCART;
const LENGTH = 0.5; // half the pole's length
const POLEMASS_LENGTH = MASSPOLE * LENGTH;
const FORCE_MAG = 10.0;
const TAU = 0.02;
const THETA_THRESHOLD = (12 * 2 * Math.PI) / 360;
const X_THRESHOLD = 2.4;

export class CartPoleEnv implements Env {
  readonly id = "CartPole-v1";
  readonly observationSize = 4;
  readonly actionCount = 2;
  /** Gymnasium's observation_space: x ±2·2.4, θ ±2·12°, velocities unbounded; reward 1 per step. */
  readonly bounds = { obs: { low: [-4.8, -Infinity, -0.41887903, -Infinity], high: [4.8, Infinity, 0.41887903, Infinity] }, reward: [0, 1] as const };

  private random: RandomSource | undefined;
  private readonly suttonBarto: boolean;
  // state (float64)
  private x = 0;
  private xDot = 0;
  private theta = 0;
  private thetaDot = 0;
  private hasState = false;
  /** Gymnasium's steps_beyond_terminated: -1 = None */
  private stepsBeyondTerminated = -1;

  constructor(options: CartPoleOptions = {}) {
    this.random = options.random;
    this.suttonBarto = options.suttonBartoReward ?? options.sutton_barto_reward ?? false;
  }

  /** The float64 state [x, x_dot, theta, theta_dot]. */
  get state(): [number, number, number, number] {
    return [this.x, this.xDot, this.theta, this.thetaDot];
  }

  reset(options: ResetOptions = {}): ResetResult {
    if (options.seed !== undefined) this.random = NumpyRandom.fromSeed(options.seed);
    else if (!this.random) this.random = NumpyRandom.fromEntropy();
    const r = this.random;
    this.x = r.uniform(-0.05, 0.05);
    this.xDot = r.uniform(-0.05, 0.05);
    this.theta = r.uniform(-0.05, 0.05);
    this.thetaDot = r.uniform(-0.05, 0.05);
    this.hasState = true;
    this.stepsBeyondTerminated = -1;
    return { obs: this.observe(), info: {} };
  }

  step(action: number): StepResult {
    if (!this.hasState) throw new Error("Call reset before using step method.");
    if (action !== 0 && action !== 1) throw new RangeError(`CartPole action must be 0 or 1, got ${action}`);
    const { x, xDot, theta, thetaDot } = this;
    const force = action === 1 ? FORCE_MAG : -FORCE_MAG;
    const costheta = Math.cos(theta);
    const sintheta = Math.sin(theta);
    const temp = (force + POLEMASS_LENGTH * (thetaDot * thetaDot) * sintheta) / TOTAL_MASS;
    const thetaacc =
      (GRAVITY * sintheta - costheta * temp) /
      (LENGTH * (4.0 / 3.0 - (MASSPOLE * (costheta * costheta)) / TOTAL_MASS));
    const xacc = temp - (POLEMASS_LENGTH * thetaacc * costheta) / TOTAL_MASS;

    this.x = x + TAU * xDot;
    this.xDot = xDot + TAU * xacc;
    this.theta = theta + TAU * thetaDot;
    this.thetaDot = thetaDot + TAU * thetaacc;

    const terminated =
      this.x < -X_THRESHOLD || this.x > X_THRESHOLD || this.theta < -THETA_THRESHOLD || this.theta > THETA_THRESHOLD;

    let reward: number;
    if (!terminated) {
      reward = this.suttonBarto ? 0.0 : 1.0;
    } else if (this.stepsBeyondTerminated < 0) {
      this.stepsBeyondTerminated = 0;
      reward = this.suttonBarto ? -1.0 : 1.0;
    } else {
      this.stepsBeyondTerminated++;
      reward = this.suttonBarto ? -1.0 : 0.0;
    }
    return { obs: this.observe(), reward, terminated, truncated: false, info: {} };
  }

  private observe(): Float32Array {
    const o = new Float32Array(4);
    o[0] = this.x;
    o[1] = this.xDot;
    o[2] = this.theta;
    o[3] = this.thetaDot;
    return o;
  }
}
