/**
 * A planck RevoluteJoint whose velocity solver does not allocate.
 *
 * LunarLander runs 180 velocity iterations per step on two revolute joints;
 * planck 1.5.0's `RevoluteJoint.solveVelocityConstraints` allocates ~6 Vec2/Vec3
 * per call, which made the solver plus GC most of the step time. This override
 * is the same arithmetic, in the same operation order (so results are
 * bit-identical to planck's, checked by test/envs/lunarlander.test.ts), with
 * scalars instead of temporary vectors. Only joints constructed from this
 * class are affected; planck itself is untouched.
 */
import { RevoluteJoint, type RevoluteJointDef } from "planck";

// planck's LimitState enum values
const INACTIVE = 0;
const AT_LOWER = 1;
const AT_UPPER = 2;
const EQUAL = 3;

interface V2 { x: number; y: number }
interface V3 { x: number; y: number; z: number }
/** The private planck fields the solver reads (present at runtime, hidden in the typings). */
interface RevoluteInternals {
  m_bodyA: { c_velocity: { v: V2; w: number } };
  m_bodyB: { c_velocity: { v: V2; w: number } };
  m_invMassA: number; m_invMassB: number; m_invIA: number; m_invIB: number;
  m_enableMotor: boolean; m_enableLimit: boolean; m_limitState: number;
  m_motorSpeed: number; m_motorMass: number; m_motorImpulse: number; m_maxMotorTorque: number;
  m_rA: V2; m_rB: V2;
  m_mass: { ex: V3; ey: V3; ez: V3 };
  m_impulse: V3;
}

export class FastRevoluteJoint extends RevoluteJoint {
  constructor(def: RevoluteJointDef) {
    super(def);
  }

  override solveVelocityConstraints(step: { dt: number }): void {
    const j = this as unknown as RevoluteInternals;
    const velA = j.m_bodyA.c_velocity, velB = j.m_bodyB.c_velocity;
    const vA = velA.v, vB = velB.v;
    let wA = velA.w;
    let wB = velB.w;
    const mA = j.m_invMassA, mB = j.m_invMassB, iA = j.m_invIA, iB = j.m_invIB;
    const fixedRotation = iA + iB === 0;
    const limitState = j.m_limitState;

    if (j.m_enableMotor && limitState !== EQUAL && !fixedRotation) {
      const cdot = wB - wA - j.m_motorSpeed;
      let impulse = -j.m_motorMass * cdot;
      const oldImpulse = j.m_motorImpulse;
      const maxImpulse = step.dt * j.m_maxMotorTorque;
      const sum = j.m_motorImpulse + impulse;
      j.m_motorImpulse = sum < -maxImpulse ? -maxImpulse : sum > maxImpulse ? maxImpulse : sum;
      impulse = j.m_motorImpulse - oldImpulse;
      wA -= iA * impulse;
      wB += iB * impulse;
    }

    const rA = j.m_rA, rB = j.m_rB, M = j.m_mass, acc = j.m_impulse;
    // Cdot1 = 0 + (vB + wB × rB) − (vA + wA × rA), as planck's addCombine/subCombine
    const c1x = 0 + (vB.x + -wB * rB.y) - (vA.x + -wA * rA.y);
    const c1y = 0 + (vB.y + wB * rB.x) - (vA.y + wA * rA.x);

    if (j.m_enableLimit && limitState !== INACTIVE && !fixedRotation) {
      const c2 = wB - wA;
      // impulse = −solve33(Cdot), verbatim Mat33.solve33
      const ex = M.ex, ey = M.ey, ez = M.ez;
      let cx = ey.y * ez.z - ey.z * ez.y;
      let cy = ey.z * ez.x - ey.x * ez.z;
      let cz = ey.x * ez.y - ey.y * ez.x;
      let det = ex.x * cx + ex.y * cy + ex.z * cz;
      if (det !== 0) det = 1 / det;
      const rx = det * (c1x * cx + c1y * cy + c2 * cz);
      cx = c1y * ez.z - c2 * ez.y;
      cy = c2 * ez.x - c1x * ez.z;
      cz = c1x * ez.y - c1y * ez.x;
      const ry = det * (ex.x * cx + ex.y * cy + ex.z * cz);
      cx = ey.y * c2 - ey.z * c1y;
      cy = ey.z * c1x - ey.x * c2;
      cz = ey.x * c1y - ey.y * c1x;
      const rz = det * (ex.x * cx + ex.y * cy + ex.z * cz);
      let ix = -rx, iy = -ry, iz = -rz;

      if (limitState === EQUAL) {
        acc.x += ix; acc.y += iy; acc.z += iz;
      } else {
        const newImpulse = acc.z + iz;
        if ((limitState === AT_LOWER && newImpulse < 0) || (limitState === AT_UPPER && newImpulse > 0)) {
          // rhs = −Cdot1 + impulse.z · (ez.x, ez.y); reduced = solve22(rhs)
          const hx = -1 * c1x + acc.z * ez.x;
          const hy = -1 * c1y + acc.z * ez.y;
          const a11 = ex.x, a12 = ey.x, a21 = ex.y, a22 = ey.y;
          let d = a11 * a22 - a12 * a21;
          if (d !== 0) d = 1 / d;
          const redX = d * (a22 * hx - a12 * hy);
          const redY = d * (a11 * hy - a21 * hx);
          ix = redX;
          iy = redY;
          iz = -acc.z;
          acc.x += redX;
          acc.y += redY;
          acc.z = 0;
        } else {
          acc.x += ix; acc.y += iy; acc.z += iz;
        }
      }
      vA.x -= mA * ix; vA.y -= mA * iy;
      wA -= iA * (rA.x * iy - rA.y * ix + iz);
      vB.x += mB * ix; vB.y += mB * iy;
      wB += iB * (rB.x * iy - rB.y * ix + iz);
    } else {
      // impulse = solve22(−Cdot)
      const hx = -c1x, hy = -c1y;
      const a11 = M.ex.x, a12 = M.ey.x, a21 = M.ex.y, a22 = M.ey.y;
      let d = a11 * a22 - a12 * a21;
      if (d !== 0) d = 1 / d;
      const ix = d * (a22 * hx - a12 * hy);
      const iy = d * (a11 * hy - a21 * hx);
      acc.x += ix;
      acc.y += iy;
      vA.x -= mA * ix; vA.y -= mA * iy;
      wA -= iA * (rA.x * iy - rA.y * ix);
      vB.x += mB * ix; vB.y += mB * iy;
      wB += iB * (rB.x * iy - rB.y * ix);
    }
    velA.w = wA;
    velB.w = wB;
  }
}
