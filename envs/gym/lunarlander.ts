/**
 * LunarLander-v3, a port of Gymnasium's box2d/lunar_lander.py on planck 1.5.0.
 *
 * Same constants, terrain, bodies, fixtures, filters, joints, contact logic,
 * engine impulses, shaping reward and termination as Gymnasium. Differences:
 * - Box2D (pybox2d) computes in float32, planck in float64: trajectories agree
 *   closely until the first ground contact, then drift apart (same task, not the
 *   same bits).
 * - Particles and rendering are skipped (they are cosmetic and, in v3, only made
 *   when rendering); the random draw order is unchanged: 12 terrain heights, 2
 *   initial-force components, [2 wind offsets if wind], then 2 dispersion draws
 *   on every step (including the internal `step(0)` of `reset()`).
 * - A fresh planck World is built on every reset (as v3 does).
 *
 * Discrete actions: 0 noop, 1 left engine, 2 main engine, 3 right engine.
 * Continuous (`continuous: true`): call `stepContinuous(main, lateral)`; `step(a)`
 * throws in that mode (the Env contract's action is a single number).
 * Wind offsets use numpy's `Generator.integers` when the random source has it
 * (`NumpyRandom` does); wind has no Gymnasium reference recording to test against.
 */
import { Box, Edge, Polygon, RevoluteJoint, World, type Body, type Contact, type RevoluteJointDef } from "planck";
import type { Env, RandomSource, ResetOptions, ResetResult, StepResult } from "../types";
import { NumpyRandom } from "../rng";
import { FastRevoluteJoint } from "./fast-revolute";

export const FPS = 50;
export const SCALE = 30.0;
export const MAIN_ENGINE_POWER = 13.0;
export const SIDE_ENGINE_POWER = 0.6;
export const INITIAL_RANDOM = 1000.0;
export const LANDER_POLY: ReadonlyArray<readonly [number, number]> = [
  [-14, +17], [-17, 0], [-17, -10], [+17, -10], [+17, 0], [+14, +17],
];
export const LEG_AWAY = 20;
export const LEG_DOWN = 18;
export const LEG_W = 2;
export const LEG_H = 8;
export const LEG_SPRING_TORQUE = 40;
export const SIDE_ENGINE_HEIGHT = 14.0;
export const SIDE_ENGINE_AWAY = 12.0;
export const MAIN_ENGINE_Y_LOCATION = 4;
export const VIEWPORT_W = 600;
export const VIEWPORT_H = 400;
const CHUNKS = 11;

const W = VIEWPORT_W / SCALE;
const H = VIEWPORT_H / SCALE;

export interface LunarLanderOptions {
  random?: RandomSource;
  continuous?: boolean;
  /** Gravity (y component), Gymnasium requires −12 < g < 0. Default −10. */
  gravity?: number;
  enableWind?: boolean;
  windPower?: number;
  turbulencePower?: number;
  /**
   * Use planck's stock RevoluteJoint instead of the allocation-free FastRevoluteJoint
   * (same arithmetic, bit-identical; kept for the equivalence test). Default false.
   */
  stockJoints?: boolean;
}

/** A source that can also draw numpy `Generator.integers(lo, hi)` (used only for wind offsets). */
interface IntegerSource extends RandomSource {
  integers(lo: number, hi: number): number;
}
function hasIntegers(r: RandomSource): r is IntegerSource {
  return typeof (r as Partial<IntegerSource>).integers === "function";
}

export class LunarLanderEnv implements Env {
  readonly id = "LunarLander-v3";
  readonly observationSize = 8;
  readonly actionCount = 4;
  /** Gymnasium v3's observation_space (reward: no declared range). */
  readonly bounds = { obs: { low: [-2.5, -2.5, -10, -10, -2 * Math.PI, -10, 0, 0], high: [2.5, 2.5, 10, 10, 2 * Math.PI, 10, 1, 1] } };
  readonly continuous: boolean;
  readonly gravity: number;
  readonly enableWind: boolean;
  readonly windPower: number;
  readonly turbulencePower: number;
  private readonly JointClass: new (def: RevoluteJointDef) => RevoluteJoint;

  private random: RandomSource | undefined;
  private world: World | null = null;
  private lander: Body | null = null;
  private legs: Body[] = [];
  private legContact = [false, false];
  private gameOver = false;
  private prevShaping: number | null = null;
  private windIdx = 0;
  private torqueIdx = 0;
  /** helipad geometry of the current episode (world units) */
  helipadX1 = 0;
  helipadX2 = 0;
  helipadY = 0;
  /** terrain polyline of the current episode: CHUNKS points (x, y) */
  readonly terrain: { x: number; y: number }[] = [];
  // scratch vectors for impulses (planck copies them)
  private readonly vImp = { x: 0, y: 0 };
  private readonly vPos = { x: 0, y: 0 };

  constructor(options: LunarLanderOptions = {}) {
    this.random = options.random;
    this.continuous = options.continuous ?? false;
    this.gravity = options.gravity ?? -10.0;
    if (!(this.gravity > -12.0 && this.gravity < 0.0)) {
      throw new RangeError(`gravity (current value: ${this.gravity}) must be between -12 and 0`);
    }
    this.enableWind = options.enableWind ?? false;
    this.windPower = options.windPower ?? 15.0;
    this.turbulencePower = options.turbulencePower ?? 1.5;
    this.JointClass = options.stockJoints ? RevoluteJoint : FastRevoluteJoint;
  }

  reset(options: ResetOptions = {}): ResetResult {
    if (options.seed !== undefined) this.random = NumpyRandom.fromSeed(options.seed);
    else if (!this.random) this.random = NumpyRandom.fromEntropy();
    const rnd = this.random;

    const world = new World({ gravity: { x: 0, y: this.gravity } });
    this.world = world;
    this.gameOver = false;
    this.prevShaping = null;
    this.legContact[0] = false;
    this.legContact[1] = false;

    // terrain
    const height = new Array<number>(CHUNKS + 1);
    for (let i = 0; i <= CHUNKS; i++) height[i] = rnd.uniform(0, H / 2);
    const chunkX: number[] = [];
    for (let i = 0; i < CHUNKS; i++) chunkX.push((W / (CHUNKS - 1)) * i);
    this.helipadX1 = chunkX[(CHUNKS >> 1) - 1]!;
    this.helipadX2 = chunkX[(CHUNKS >> 1) + 1]!;
    this.helipadY = H / 4;
    for (let k = -2; k <= 2; k++) height[(CHUNKS >> 1) + k] = this.helipadY;
    // Python's height[-1] for i = 0 is the last element.
    const smoothY: number[] = [];
    for (let i = 0; i < CHUNKS; i++) {
      const prev = height[i - 1 < 0 ? CHUNKS : i - 1]!;
      smoothY.push(0.33 * (prev + height[i]! + height[i + 1]!));
    }

    const moon = world.createBody();
    moon.createFixture(new Edge({ x: 0, y: 0 }, { x: W, y: 0 }));
    this.terrain.length = 0;
    for (let i = 0; i < CHUNKS; i++) this.terrain.push({ x: chunkX[i]!, y: smoothY[i]! });
    for (let i = 0; i < CHUNKS - 1; i++) {
      moon.createFixture({
        shape: new Edge({ x: chunkX[i]!, y: smoothY[i]! }, { x: chunkX[i + 1]!, y: smoothY[i + 1]! }),
        density: 0,
        friction: 0.1,
      });
    }

    const initialX = VIEWPORT_W / SCALE / 2;
    const initialY = VIEWPORT_H / SCALE;
    const lander = world.createBody({ type: "dynamic", position: { x: initialX, y: initialY }, angle: 0.0 });
    lander.createFixture({
      shape: new Polygon(LANDER_POLY.map(([x, y]) => ({ x: x / SCALE, y: y / SCALE }))),
      density: 5.0,
      friction: 0.1,
      filterCategoryBits: 0x0010,
      filterMaskBits: 0x001,
      restitution: 0.0,
    });
    this.lander = lander;
    const fx = rnd.uniform(-INITIAL_RANDOM, INITIAL_RANDOM);
    const fy = rnd.uniform(-INITIAL_RANDOM, INITIAL_RANDOM);
    lander.applyForceToCenter({ x: fx, y: fy }, true);

    if (this.enableWind) {
      this.windIdx = hasIntegers(rnd) ? rnd.integers(-9999, 9999) : Math.floor(rnd.uniform(-9999, 9999));
      this.torqueIdx = hasIntegers(rnd) ? rnd.integers(-9999, 9999) : Math.floor(rnd.uniform(-9999, 9999));
    }

    this.legs = [];
    for (const i of [-1, +1]) {
      const leg = world.createBody({
        type: "dynamic",
        position: { x: initialX - (i * LEG_AWAY) / SCALE, y: initialY },
        angle: i * 0.05,
      });
      leg.createFixture({
        shape: new Box(LEG_W / SCALE, LEG_H / SCALE),
        density: 1.0,
        restitution: 0.0,
        filterCategoryBits: 0x0020,
        filterMaskBits: 0x001,
      });
      world.createJoint(
        new this.JointClass({
          bodyA: lander,
          bodyB: leg,
          localAnchorA: { x: 0, y: 0 },
          localAnchorB: { x: (i * LEG_AWAY) / SCALE, y: LEG_DOWN / SCALE },
          // pybox2d's revoluteJointDef sets referenceAngle = bodyB.angle − bodyA.angle
          referenceAngle: leg.getAngle() - lander.getAngle(),
          enableMotor: true,
          enableLimit: true,
          maxMotorTorque: LEG_SPRING_TORQUE,
          motorSpeed: +0.3 * i,
          lowerAngle: i === -1 ? 0.9 - 0.5 : -0.9,
          upperAngle: i === -1 ? 0.9 : -0.9 + 0.5,
        }),
      );
      this.legs.push(leg);
    }

    const legA = this.legs[0]!, legB = this.legs[1]!;
    world.on("begin-contact", (contact: Contact) => {
      const a = contact.getFixtureA().getBody();
      const b = contact.getFixtureB().getBody();
      if (a === lander || b === lander) this.gameOver = true;
      if (a === legA || b === legA) this.legContact[0] = true;
      if (a === legB || b === legB) this.legContact[1] = true;
    });
    world.on("end-contact", (contact: Contact) => {
      const a = contact.getFixtureA().getBody();
      const b = contact.getFixtureB().getBody();
      if (a === legA || b === legA) this.legContact[0] = false;
      if (a === legB || b === legB) this.legContact[1] = false;
    });

    const r = this.continuous ? this.stepContinuous(0, 0) : this.step(0);
    return { obs: r.obs, info: {} };
  }

  step(action: number): StepResult {
    if (this.continuous) throw new Error("continuous LunarLander: use stepContinuous(main, lateral)");
    if (action !== 0 && action !== 1 && action !== 2 && action !== 3) {
      throw new RangeError(`LunarLander action must be 0..3, got ${action}`);
    }
    const mPower = action === 2 ? 1.0 : 0.0;
    const sPower = action === 1 || action === 3 ? 1.0 : 0.0;
    return this.advance(mPower, sPower, action - 2);
  }

  /** Continuous actions as Gymnasium's `Box(-1, 1, (2,))`: [main, lateral], clipped to [-1, 1]. */
  stepContinuous(main: number, lateral: number): StepResult {
    if (!this.continuous) throw new Error("discrete LunarLander: use step(action)");
    main = Math.min(1, Math.max(-1, main));
    lateral = Math.min(1, Math.max(-1, lateral));
    const mPower = main > 0.0 ? (Math.min(1, Math.max(0, main)) + 1.0) * 0.5 : 0.0;
    const sPower = Math.abs(lateral) > 0.5 ? Math.min(1, Math.max(0.5, Math.abs(lateral))) : 0.0;
    return this.advance(mPower, sPower, Math.sign(lateral));
  }

  private advance(mPower: number, sPower: number, direction: number): StepResult {
    const lander = this.lander;
    const world = this.world;
    const rnd = this.random;
    if (!lander || !world || !rnd) throw new Error("You forgot to call reset()");

    if (this.enableWind && !(this.legContact[0] || this.legContact[1])) {
      const windMag =
        Math.tanh(Math.sin(0.02 * this.windIdx) + Math.sin(Math.PI * 0.01 * this.windIdx)) * this.windPower;
      this.windIdx += 1;
      this.vImp.x = windMag;
      this.vImp.y = 0.0;
      lander.applyForceToCenter(this.vImp, true);
      const torqueMag =
        Math.tanh(Math.sin(0.02 * this.torqueIdx) + Math.sin(Math.PI * 0.01 * this.torqueIdx)) *
        this.turbulencePower;
      this.torqueIdx += 1;
      lander.applyTorque(torqueMag, true);
    }

    const angle = lander.getAngle();
    const tip0 = Math.sin(angle), tip1 = Math.cos(angle);
    const side0 = -tip1, side1 = tip0;
    const d0 = rnd.uniform(-1.0, +1.0) / SCALE;
    const d1 = rnd.uniform(-1.0, +1.0) / SCALE;
    const pos = lander.getPosition();

    if (mPower > 0) {
      const ox = tip0 * (MAIN_ENGINE_Y_LOCATION / SCALE + 2 * d0) + side0 * d1;
      const oy = -tip1 * (MAIN_ENGINE_Y_LOCATION / SCALE + 2 * d0) - side1 * d1;
      this.vPos.x = pos.x + ox;
      this.vPos.y = pos.y + oy;
      this.vImp.x = -ox * MAIN_ENGINE_POWER * mPower;
      this.vImp.y = -oy * MAIN_ENGINE_POWER * mPower;
      lander.applyLinearImpulse(this.vImp, this.vPos, true);
    }
    if (sPower > 0) {
      const ox = tip0 * d0 + side0 * (3 * d1 + (direction * SIDE_ENGINE_AWAY) / SCALE);
      const oy = -tip1 * d0 - side1 * (3 * d1 + (direction * SIDE_ENGINE_AWAY) / SCALE);
      this.vPos.x = pos.x + ox - (tip0 * 17) / SCALE;
      this.vPos.y = pos.y + oy + (tip1 * SIDE_ENGINE_HEIGHT) / SCALE;
      this.vImp.x = -ox * SIDE_ENGINE_POWER * sPower;
      this.vImp.y = -oy * SIDE_ENGINE_POWER * sPower;
      lander.applyLinearImpulse(this.vImp, this.vPos, true);
    }

    world.step(1.0 / FPS, 6 * 30, 2 * 30);

    const p = lander.getPosition();
    const v = lander.getLinearVelocity();
    const s0 = (p.x - VIEWPORT_W / SCALE / 2) / (VIEWPORT_W / SCALE / 2);
    const s1 = (p.y - (this.helipadY + LEG_DOWN / SCALE)) / (VIEWPORT_H / SCALE / 2);
    const s2 = (v.x * (VIEWPORT_W / SCALE / 2)) / FPS;
    const s3 = (v.y * (VIEWPORT_H / SCALE / 2)) / FPS;
    const s4 = lander.getAngle();
    const s5 = (20.0 * lander.getAngularVelocity()) / FPS;
    const s6 = this.legContact[0] ? 1.0 : 0.0;
    const s7 = this.legContact[1] ? 1.0 : 0.0;

    let reward = 0;
    const shaping =
      -100 * Math.sqrt(s0 * s0 + s1 * s1) - 100 * Math.sqrt(s2 * s2 + s3 * s3) - 100 * Math.abs(s4) + 10 * s6 + 10 * s7;
    if (this.prevShaping !== null) reward = shaping - this.prevShaping;
    this.prevShaping = shaping;
    reward -= mPower * 0.3;
    reward -= sPower * 0.03;

    let terminated = false;
    if (this.gameOver || Math.abs(s0) >= 1.0) {
      terminated = true;
      reward = -100;
    }
    if (!lander.isAwake()) {
      terminated = true;
      reward = +100;
    }

    const obs = new Float32Array(8);
    obs[0] = s0; obs[1] = s1; obs[2] = s2; obs[3] = s3;
    obs[4] = s4; obs[5] = s5; obs[6] = s6; obs[7] = s7;
    return { obs, reward, terminated, truncated: false, info: {} };
  }

  close(): void {
    this.world = null;
    this.lander = null;
    this.legs = [];
  }
}

/**
 * Gymnasium's `heuristic(env, s)` controller. Returns a discrete action, or
 * `[main, lateral]` when `env.continuous`.
 */
export function heuristic(env: { continuous?: boolean } | null | undefined, s: ArrayLike<number>): number | [number, number] {
  let angleTarg = s[0]! * 0.5 + s[2]! * 1.0;
  if (angleTarg > 0.4) angleTarg = 0.4;
  if (angleTarg < -0.4) angleTarg = -0.4;
  const hoverTarg = 0.55 * Math.abs(s[0]!);
  let angleTodo = (angleTarg - s[4]!) * 0.5 - s[5]! * 1.0;
  let hoverTodo = (hoverTarg - s[1]!) * 0.5 - s[3]! * 0.5;
  if (s[6] || s[7]) {
    angleTodo = 0;
    hoverTodo = -s[3]! * 0.5;
  }
  if (env?.continuous) {
    const clip = (x: number) => Math.min(1, Math.max(-1, x));
    return [clip(hoverTodo * 20 - 1), clip(-angleTodo * 20)];
  }
  let a = 0;
  if (hoverTodo > Math.abs(angleTodo) && hoverTodo > 0.05) a = 2;
  else if (angleTodo < -0.05) a = 3;
  else if (angleTodo > +0.05) a = 1;
  return a;
}

/** The discrete heuristic action for observation `s`. */
export function heuristicAction(s: ArrayLike<number>): number {
  return heuristic(null, s) as number;
}
