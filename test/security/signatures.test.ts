/**
 * Integrity beyond CRC (issue #13): Ed25519 signatures on weights uploads and global models, keys
 * from `fedrl auth init`; registered identities only at the learner; learner.rate wired.
 */
import { expect } from "chai";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, statSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "../../transport/crc32";
import { InProcessBus } from "../../transport/bus-inproc";
import { BusDownlink, BusServerLink } from "../../transport/links";
import { decodeGlobal, decodeWeights, encodeGlobal, encodeTransitions, encodeWeights, signedGlobalBytes, signedWeightsBytes, verifyBytes } from "../../transport/codec";
import { subjectsFor, TRANSITION_REPLY } from "../../transport/subjects";
import { makeLayout } from "../../core/params";
import { allocBatch } from "../../core/batch";
import { RejectionCounter } from "../../core/errors";
import { StepClock } from "../../core/clock";
import { MemoryMetrics } from "../../core/metrics";
import type { GlobalModel, WeightsUpload } from "../../core/links";
import { decodePlain } from "../helpers/msgpack-plain";
import { authInit, loadIdentities, loadSigningKey } from "../../launch/auth";
import { parseExperiment } from "../../launch/config";
import { assemble, runAuth } from "../../launch/assemble";
import { runEmbedded } from "../../launch/embedded";
import { MemoryReplay } from "../../transport/replay-memory";

const layout = makeLayout([{ name: "w", shape: [4, 8] }, { name: "b", shape: [8] }]);
const N = 40;
const params = (seed: number) => Float32Array.from({ length: N }, (_, i) => Math.sin(seed + i));
const keys = () => generateKeyPairSync("ed25519");

/** Flips one bit of the frame body at `bodyOffset` and recomputes the CRC (what a forger or a corrupting middlebox does). */
function flipWithCrc(frame: Uint8Array, bodyOffset: number, bit: number): Uint8Array {
  const f = frame.slice();
  f[12 + bodyOffset]! ^= 1 << bit;
  new DataView(f.buffer).setUint32(8, crc32(f.subarray(12)), true);
  return f;
}

/** The byte offset inside the body where the params bin starts (the last 4·N bytes before the sig field). */
function paramsOffset(frame: Uint8Array, p: Float32Array): number {
  const body = frame.subarray(12);
  const needle = new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
  outer: for (let i = 0; i + needle.length <= body.length; i++) {
    for (let k = 0; k < needle.length; k++) if (body[i + k] !== needle[k]) continue outer;
    return i;
  }
  throw new Error("params not found in body");
}

describe("signatures in the codec (Ed25519, optional sig field, wire v2)", () => {
  it("signed weights and global models round-trip; the signature verifies with the signer's key only", () => {
    const a = keys();
    const b = keys();
    const w = { actor: "actor-0", version: 3, samples: 1200, ts: 1_700_000_000_123, layout, params: params(1) };
    const dw = decodeWeights(encodeWeights(w, a.privateKey), layout);
    expect(dw.sig).to.have.length(64);
    expect(verifyBytes(signedWeightsBytes(dw), dw.sig, a.publicKey)).to.equal(true);
    expect(verifyBytes(signedWeightsBytes(dw), dw.sig, b.publicKey)).to.equal(false);
    const g = { version: 7, round: 2, ts: 1_700_000_000_456.5, layout, params: params(2) };
    const dg = decodeGlobal(encodeGlobal(g, a.privateKey), layout);
    expect(verifyBytes(signedGlobalBytes(dg), dg.sig, a.publicKey)).to.equal(true);
    // Unsigned: no sig field at all (the bytes are what they were before signatures existed).
    expect(decodeGlobal(encodeGlobal(g), layout).sig).to.equal(undefined);
    expect(verifyBytes(signedGlobalBytes(g), undefined, a.publicKey)).to.equal(false);
    // The signature covers version, round and ts too.
    expect(verifyBytes(signedGlobalBytes({ ...dg, version: 8 }), dg.sig, a.publicKey)).to.equal(false);
    expect(verifyBytes(signedGlobalBytes({ ...dg, round: 3 }), dg.sig, a.publicKey)).to.equal(false);
    expect(verifyBytes(signedWeightsBytes({ ...dw, samples: 10 ** 9 }), dw.sig, a.publicKey)).to.equal(false);
  });

  it("the sig field is plain MessagePack bin (another decoder reads it)", () => {
    const k = keys();
    const bytes = encodeGlobal({ version: 1, round: 0, ts: 0, layout, params: params(0) }, k.privateKey);
    const body = decodePlain(bytes.subarray(12)) as Record<string, unknown>;
    expect(body.sig).to.be.instanceOf(Uint8Array);
    expect((body.sig as Uint8Array).length).to.equal(64);
  });

  it("a flipped bit in the params with a recomputed CRC decodes (CRC is no integrity) but is refused by the signature — every bit of the params", () => {
    const k = keys();
    const p = params(3);
    const frame = encodeWeights({ actor: "actor-1", version: 1, samples: 10, ts: 5, layout, params: p }, k.privateKey);
    const off = paramsOffset(frame, p);
    let decoded = 0;
    for (let byte = 0; byte < 4 * N; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        let w;
        try {
          w = decodeWeights(flipWithCrc(frame, off + byte, bit), layout);
        } catch {
          continue; // non-finite after the flip: refused by the codec already
        }
        decoded++;
        expect(verifyBytes(signedWeightsBytes(w), w.sig, k.publicKey), `byte ${byte} bit ${bit}`).to.equal(false);
      }
    }
    expect(decoded).to.be.greaterThan(4 * N * 8 * 0.9); // most flips pass the CRC and the codec
  });
});

describe("actors verify the learner's signature on global models (BusDownlink)", () => {
  it("with a key: unsigned, wrongly signed and bit-flipped models are refused (bad_signature); the learner's are applied", async () => {
    const bus = new InProcessBus();
    const s = subjectsFor("sig-dl");
    const learner = keys();
    const forger = keys();
    const logs: string[] = [];
    const down = new BusDownlink(bus, s, layout, (l) => logs.push(l), Date.now, { verifyKey: learner.publicKey });
    const got: number[] = [];
    await down.subscribe((g: GlobalModel) => got.push(g.version));
    const send = async (bytes: Uint8Array) => {
      bus.publish(s.global, bytes);
      await bus.flush();
    };
    const g = (version: number) => ({ version, round: 1, ts: Date.now(), layout, params: params(version) });
    await send(encodeGlobal(g(1), learner.privateKey));
    await send(encodeGlobal(g(2))); // unsigned
    await send(encodeGlobal(g(3), forger.privateKey)); // forged
    const good = encodeGlobal(g(4), learner.privateKey);
    await send(flipWithCrc(good, paramsOffset(good, params(4)) + 5, 6)); // corrupted, CRC recomputed
    await send(good);
    expect(got).to.deep.equal([1, 4]);
    expect(down.rejected.snapshot().byReason).to.deep.equal({ bad_signature: 3 });
    expect(logs.join("\n")).to.match(/unsigned/).and.to.match(/does not verify/);
    await down.close();
    await bus.close();
  });

  it("without a key: unsigned models are applied as before", async () => {
    const bus = new InProcessBus();
    const s = subjectsFor("sig-dl2");
    const down = new BusDownlink(bus, s, layout);
    const got: number[] = [];
    await down.subscribe((g: GlobalModel) => got.push(g.version));
    bus.publish(s.global, encodeGlobal({ version: 1, round: 0, ts: 0, layout, params: params(1) }));
    await bus.flush();
    expect(got).to.deep.equal([1]);
    await down.close();
    await bus.close();
  });
});

function batch(n: number) {
  const b = allocBatch(n, 4);
  for (let i = 0; i < n * 4; i++) b.obs[i] = b.nextObs[i] = Math.sin(i) * 0.5;
  return b;
}

describe("the learner's link: registered identities only, weights verified per identity", () => {
  async function link(identities?: Map<string, import("node:crypto").KeyObject | null>, rate?: { messagesPerSec: number; bytesPerSec: number }) {
    const bus = new InProcessBus();
    const s = subjectsFor("sig-srv");
    const rejected = new RejectionCounter();
    const l = new BusServerLink(bus, s, { obsDim: 4, actionCount: 2, layout, maxMessageBytes: 1 << 20, rejected, identities, rate });
    const batches: string[] = [];
    const weights: { actor: string; w: WeightsUpload }[] = [];
    await l.start(async (actor) => { batches.push(actor); return true; }, (actor, w) => weights.push({ actor, w }));
    return { bus, s, l, rejected, batches, weights };
  }

  it("sybil ids get nothing: their batches are REJECTED and their weights dropped, one 'unregistered' each; registered actors' signed uploads pass", async () => {
    const a0 = keys();
    const a1 = keys();
    const { bus, s, l, rejected, batches, weights } = await link(new Map([["actor-0", a0.publicKey], ["actor-1", a1.publicKey]]));
    const up = (actor: string, key?: import("node:crypto").KeyObject, claimed = actor) =>
      bus.publish(s.weights(actor), encodeWeights({ actor: claimed, version: 0, samples: 100, ts: Date.now(), layout, params: params(actor.length) }, key));
    const replies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const id = `sybil-${i}`;
      const sk = keys().privateKey; // a sybil may sign with a key of its own: not registered, refused anyway
      up(id, sk);
      replies.push((await bus.request(s.transitions(id), encodeTransitions({ actor: id, env: "CartPole-v1", seq: 0, ts: 1, batch: batch(5) }), { timeoutMs: 5000 }))[0]!);
    }
    up("actor-0", a0.privateKey);
    up("actor-1", a1.privateKey);
    replies.push((await bus.request(s.transitions("actor-0"), encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq: 0, ts: 1, batch: batch(5) }), { timeoutMs: 5000 }))[0]!);
    await bus.flush();
    await l.drain();
    expect(replies.slice(0, 10).every((r) => r === TRANSITION_REPLY.REJECTED)).to.equal(true);
    expect(replies[10]).to.equal(TRANSITION_REPLY.ACK);
    expect(batches).to.deep.equal(["actor-0"]);
    expect(weights.map((w) => w.actor).sort()).to.deep.equal(["actor-0", "actor-1"]);
    const snap = rejected.snapshot();
    expect(snap.byReason).to.deep.equal({ unregistered: 20 });
    expect(snap.bySource["sybil-3"]).to.equal(2);
    await l.close();
    await bus.close();
  });

  it("weights of a registered identity must carry its signature: unsigned, signed by another actor, or altered with a fixed CRC are refused (bad_signature)", async () => {
    const a0 = keys();
    const a1 = keys();
    const { bus, s, l, rejected, weights } = await link(new Map([["actor-0", a0.publicKey], ["actor-1", a1.publicKey]]));
    const w = { actor: "actor-0", version: 1, samples: 50, ts: Date.now(), layout, params: params(9) };
    bus.publish(s.weights("actor-0"), encodeWeights(w)); // unsigned
    bus.publish(s.weights("actor-0"), encodeWeights(w, a1.privateKey)); // actor-1's key for actor-0's upload
    const good = encodeWeights(w, a0.privateKey);
    bus.publish(s.weights("actor-0"), flipWithCrc(good, paramsOffset(good, w.params) + 17, 3));
    bus.publish(s.weights("actor-0"), good);
    await bus.flush();
    expect(weights).to.have.length(1);
    expect(Array.from(weights[0]!.w.params)).to.deep.equal(Array.from(w.params));
    expect(rejected.snapshot().byReason).to.deep.equal({ bad_signature: 3 });
    await l.close();
    await bus.close();
  });

  it("without identities any id is a client (today's behaviour)", async () => {
    const { bus, s, l, rejected, weights } = await link();
    bus.publish(s.weights("whoever"), encodeWeights({ actor: "whoever", version: 0, samples: 1, ts: 0, layout, params: params(1) }));
    await bus.flush();
    expect(weights).to.have.length(1);
    expect(rejected.snapshot().total).to.equal(0);
    await l.close();
    await bus.close();
  });
});

describe("auth init: signing keys and the Redis ACL", () => {
  const dir = mkdtempSync(join(tmpdir(), "fedrl-sig-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes one Ed25519 key pair per identity: public in identities.json, private 0600; loadIdentities reads them back", () => {
    const r = authInit({ run: "sigrun", actors: 3, out: join(dir, "a") });
    const json = JSON.parse(readFileSync(join(dir, "a", "identities.json"), "utf8"));
    for (const i of r.identities) {
      expect(statSync(i.signingKeyFile).mode & 0o777, i.name).to.equal(0o600);
      expect(json.identities.find((x: { name: string }) => x.name === i.name).signingKey).to.equal(i.signingKey);
      const priv = loadSigningKey(i.signingKeyFile);
      // the private key never appears in identities.json
      expect(JSON.stringify(json)).to.not.include(priv.export({ format: "jwk" }).d);
    }
    const ids = loadIdentities(join(dir, "a", "identities.json"));
    expect(ids.run).to.equal("sigrun");
    expect([...ids.actors.keys()]).to.deep.equal(["actor-0", "actor-1", "actor-2"]);
    expect(ids.learnerKey).to.not.equal(null);
    // a signature by actor-1's private key verifies with its registered public key only
    const k1 = loadSigningKey(r.identities.find((i) => i.name === "actor-1")!.signingKeyFile);
    const bytes = encodeWeights({ actor: "actor-1", version: 0, samples: 1, ts: 0, layout, params: params(0) }, k1);
    const w = decodeWeights(bytes, layout);
    expect(verifyBytes(signedWeightsBytes(w), w.sig, ids.actors.get("actor-1")!)).to.equal(true);
    expect(verifyBytes(signedWeightsBytes(w), w.sig, ids.actors.get("actor-0")!)).to.equal(false);
    // Redis: an ACL file with hashed passwords only, the learner's password 0600
    const acl = readFileSync(r.redisAcl, "utf8");
    const pw = readFileSync(join(dir, "a", "learner.redis-password"), "utf8").trim();
    expect(acl).to.not.include(pw);
    expect(acl).to.match(/^user default off/m).and.to.match(/^user learner on #[0-9a-f]{64} resetkeys ~fedrl:\{sigrun\}:\* /m);
    expect(statSync(join(dir, "a", "learner.redis-password")).mode & 0o777).to.equal(0o600);
  });

  it("config auth.identities: a run name mismatch and a missing key are one clear ConfigError each", () => {
    authInit({ run: "other", actors: 1, out: join(dir, "b") });
    expect(() => runAuth(parseExperiment({ run: "sigrun", auth: { identities: join(dir, "b", "identities.json") } }))).to.throw(/generated for run "other", this run is "sigrun"/);
    const a = runAuth(parseExperiment({ run: "sigrun", auth: { identities: join(dir, "a", "identities.json") } }))!;
    expect(() => a.keyOf("actor-9")).to.throw(/no signing key for actor-9/);
    expect(() => runAuth(parseExperiment({ run: "sigrun", auth: { identities: join(dir, "nope.json") } }))).to.throw(/auth.identities: cannot read identities/);
  });
});

describe("runs with auth.identities (embedded, step clock)", function () {
  this.timeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), "fedrl-sig-run-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const exp = (mode: "hybrid" | "fedavg", auth: Record<string, unknown>) => parseExperiment({
    run: "sigemb", mode, clock: "steps", seed: 3, env: { id: "CartPole-v1" },
    agent: { learningStarts: 200, epsilonSchedule: "linear", epsilonDecaySteps: 2000, lr: 0.001 },
    actors: { count: 2, batchSteps: 100, weights: { ms: 1000, steps: 500 } },
    learner: { tick: { ms: 500, steps: 100 }, updatesPerTick: 4, warmup: 300, publish: { ms: 1000, steps: 400 } },
    aggregator: { interval: { ms: 1000, steps: 500 }, staleAfter: { ms: 10000, steps: 5000 } },
    budget: { stepsPerActor: 1500 }, eval: { episodes: 1 }, auth,
  });

  for (const mode of ["fedavg", "hybrid"] as const) {
    it(`${mode}: every upload and global model is signed and verified, nothing refused, and what is learned is bit for bit the unsigned run's`, async () => {
      authInit({ run: "sigemb", actors: 2, out: join(dir, mode) });
      const m1 = new MemoryMetrics();
      const logs: string[] = [];
      const signed = await runEmbedded(exp(mode, { identities: join(dir, mode, "identities.json") }), { writeMetrics: false, metrics: m1, log: (l) => logs.push(l) });
      const plainLogs: string[] = [];
      const plain = await runEmbedded(exp(mode, {}), { writeMetrics: false, metrics: new MemoryMetrics(), log: (l) => plainLogs.push(l) });
      expect(signed.server!.rounds).to.be.greaterThan(0);
      for (const a of signed.actors) expect(a.globalVersion).to.be.greaterThan(0);
      expect(signed.actors.map((a) => a.returns)).to.deep.equal(plain.actors.map((a) => a.returns));
      expect(signed.globalModel).to.deep.equal(plain.globalModel);
      expect(signed.eval).to.deep.equal(plain.eval);
      if (mode === "hybrid") expect(signed.learner!.rejected.total).to.equal(0);
      const rounds = m1.of("aggregation");
      expect((rounds.at(-1)!.clients as { actor: string }[]).map((c) => c.actor).sort()).to.deep.equal(["actor-0", "actor-1"]);
      expect(logs.filter((l) => /^auth: 2 registered actor identities/.test(l))).to.have.length(1);
      expect(plainLogs.filter((l) => /any actor id on the bus is accepted/.test(l))).to.have.length(1);
    });
  }

  it("an actor id not in identities.json is refused at assembly (it could never be a client)", async () => {
    authInit({ run: "sigemb", actors: 1, out: join(dir, "one") });
    const e = exp("fedavg", { identities: join(dir, "one", "identities.json") });
    let err: unknown;
    try {
      await assemble(e, { bus: new InProcessBus(), clock: new StepClock(), metrics: () => new MemoryMetrics(), log: () => {} }, { actors: ["actor-5"], server: false });
    } catch (x) {
      err = x;
    }
    expect(String(err)).to.match(/actor id actor-5 is not registered/);
  });
});

describe("learner.rate is wired into the server link", () => {
  it("a flood from one actor beyond messagesPerSec is answered RETRY and counted rate_limited; off by default", async () => {
    for (const [rate, limited] of [[{ messagesPerSec: 1, bytesPerSec: 0 }, true], [undefined, false]] as const) {
      const e = parseExperiment({ run: "rate-wired", clock: "steps", env: { id: "CartPole-v1" }, learner: { filter: { name: "none" }, ...(rate ? { rate } : {}) } });
      expect(e.learner.rate).to.deep.equal(rate ?? { messagesPerSec: 0, bytesPerSec: 0 });
      const bus = new InProcessBus();
      const topo = await assemble(e, { bus, clock: new StepClock(), metrics: () => new MemoryMetrics(), log: () => {}, replay: async () => new MemoryReplay(10_000, 4, 1) }, { actors: [], server: true });
      await topo.server!.start();
      const s = subjectsFor("rate-wired");
      const replies: number[] = [];
      for (let i = 0; i < 10; i++) replies.push((await bus.request(s.transitions("actor-0"), encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq: i, ts: 1, batch: batch(5) }), { timeoutMs: 5000 }))[0]!);
      const n = replies.filter((r) => r === TRANSITION_REPLY.RETRY).length;
      if (limited) {
        expect(n).to.be.greaterThan(0);
        expect(topo.server!.rejected.snapshot().byReason.rate_limited).to.equal(n);
      } else expect(n).to.equal(0);
      await topo.server!.stop();
      topo.dispose();
      await bus.close();
    }
  });
});
