import { expect } from "chai";
import { make } from "../../envs/index";
import { IoTIntrusionEnv, INTRUSION_OBS_FIELDS, OBS, ALLOW, DROP, ISOLATE, VERIFY, DEFAULT_INTRUSION_REWARD } from "../../envs/iot/intrusion";
import { IoTContainmentEnv, containmentAction } from "../../envs/iot/containment";

type Truth = { label: number; family: string; deviceId: number; deviceType: string; site: number };

describe("IoTIntrusion-v0 dynamics", () => {
  it("documents every observation field; 38 fields, 6 actions; info carries the truth", () => {
    const env = make("IoTIntrusion-v0", { site: 3, sites: 5, alpha: 0.3 });
    expect(env.observationSize).to.equal(38);
    expect(INTRUSION_OBS_FIELDS).to.have.length(env.observationSize);
    expect(new Set(INTRUSION_OBS_FIELDS).size).to.equal(38);
    expect(env.actionCount).to.equal(6);
    const { info } = env.reset({ seed: 0 });
    const r = env.step(ALLOW);
    const t = r.info as unknown as Truth;
    expect(t.label).to.be.oneOf([0, 1]);
    expect(t.site).to.equal(3);
    expect(t).to.include.keys("family", "deviceId", "deviceType");
    // the acted-on flow is the one presented before the step
    expect(t.deviceId).to.equal((info.current as Truth).deviceId);
  });

  it("rewards: blocking benign costs fp, blocking malicious earns tp", () => {
    const env = new IoTIntrusionEnv({ sites: 1, maliciousShare: 0.5 });
    let { info } = env.reset({ seed: 4 });
    let sawFp = false, sawTp = false;
    for (let i = 0; i < 300 && !(sawFp && sawTp); i++) {
      const r = env.step(DROP);
      const parts = r.info.rewardParts as Record<string, number>;
      if ((info.current as Truth).label === 1) { expect(parts.tp).to.equal(DEFAULT_INTRUSION_REWARD.tp); expect(parts.fp).to.equal(0); sawTp = true; }
      else { expect(parts.fp).to.equal(-DEFAULT_INTRUSION_REWARD.fp); expect(parts.tp).to.equal(0); sawFp = true; }
      expect(parts.step).to.equal(-DEFAULT_INTRUSION_REWARD.stepCost);
      info = r.info;
    }
    expect(sawFp && sawTp).to.equal(true);
  });

  it("isolating a compromised device stops its flows for isolationSteps and ends its campaign", () => {
    const env = new IoTIntrusionEnv({ sites: 1, maliciousShare: 0.5, dynamics: { isolationSteps: 10 } });
    let { info } = env.reset({ seed: 2 });
    let i = 0;
    while ((info.current as Truth).label !== 1 && i++ < 200) info = env.step(ALLOW).info;
    const victim = (info.current as Truth).deviceId;
    let r = env.step(ISOLATE);
    expect((r.info.rewardParts as Record<string, number>).actionCost).to.equal(-DEFAULT_INTRUSION_REWARD.isolateCost);
    for (let k = 0; k < 9; k++) {
      expect((r.info.current as Truth).deviceId).to.not.equal(victim);
      expect(r.obs[OBS.isolatedFraction]).to.be.greaterThan(0);
      r = env.step(ALLOW);
    }
  });

  it("a revealed verification shows up in that device's next observation", () => {
    const env = new IoTIntrusionEnv({ sites: 1, maliciousShare: 0.3, dynamics: { verifyRevealProb: 1, verifiedSteps: 1000 } });
    let { info } = env.reset({ seed: 8 });
    const dev = (info.current as Truth).deviceId, wasMal = (info.current as Truth).label;
    let r = env.step(VERIFY);
    for (let k = 0; k < 200 && (r.info.current as Truth).deviceId !== dev; k++) r = env.step(ALLOW);
    expect((r.info.current as Truth).deviceId).to.equal(dev);
    expect(r.obs[wasMal ? OBS.verifiedMalicious : OBS.verifiedBenign]).to.equal(1);
    expect(r.obs[OBS.histDecision]).to.be.closeTo((VERIFY + 1) / 6, 1e-6);
  });

  it("sites of one split differ; the same site is reproducible; bad site throws", () => {
    const a = new IoTIntrusionEnv({ site: 0, sites: 5, alpha: 0.1 });
    const b = new IoTIntrusionEnv({ site: 1, sites: 5, alpha: 0.1 });
    const a2 = new IoTIntrusionEnv({ site: 0, sites: 5, alpha: 0.1 });
    expect(a.familyMix).to.deep.equal(a2.familyMix);
    expect(a.deviceTypes).to.deep.equal(a2.deviceTypes);
    expect(a.familyMix).to.not.deep.equal(b.familyMix);
    expect(() => make("IoTIntrusion-v0", { site: 5, sites: 5 })).to.throw(RangeError);
  });
});

describe("IoTContainment-v0 dynamics", () => {
  it("1 + 3N actions, 7N + 1 observations; patching every device cleans the network", () => {
    const env = new IoTContainmentEnv({ devices: 4, seed: 0, intrusionRate: 0 });
    expect(env.actionCount).to.equal(13);
    expect(env.observationSize).to.equal(29);
    env.reset({ seed: 1 });
    let terminated = false;
    // patch all four devices back to back; patches take 2 steps, immunity blocks re-infection
    for (let i = 0; i < 4 && !terminated; i++) terminated = env.step(containmentAction(i, "patch")).terminated;
    for (let k = 0; k < 3 && !terminated; k++) terminated = env.step(0).terminated;
    expect(terminated).to.equal(true);
  });
  it("with no defence the compromise only grows and costs compromiseWeight × value", () => {
    const env = new IoTContainmentEnv({ seed: 0 });
    env.reset({ seed: 3 });
    let prev = 1;
    for (let i = 0; i < 30; i++) {
      const r = env.step(0);
      const n = r.info.nCompromised as number;
      expect(n).to.be.at.least(prev);
      prev = n;
      const parts = r.info.rewardParts as Record<string, number>;
      expect(parts.availability).to.equal(-0);
      expect(r.reward).to.be.closeTo(parts.compromise!, 1e-12);
    }
  });
});
