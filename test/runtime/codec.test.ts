import { deflateSync, inflateSync } from "fflate";
import { decodePlain } from "../helpers/msgpack-plain";
import { crc32 } from "../../transport/crc32";
import { syntheticBatch } from "../../core/batch";
import { Random } from "../../core/random";
import { expect } from "chai";
import fc from "fast-check";
import { pack, unpack } from "msgpackr";
import {
  encodeTransitions, decodeTransitions, encodeWeights, decodeWeights, encodeGlobal, decodeGlobal,
  DEFAULT_LIMITS, WIRE_VERSION, type TransitionMessage, signedGlobalBytes, signedWeightsBytes, verifyBytes,
} from "../../transport/codec";
import { generateKeyPairSync } from "node:crypto";
import { CodecError } from "../../core/errors";
import { makeLayout } from "../../core/params";
import type { TransitionBatch } from "../../core/batch";

const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });

const batchArb = fc.record({ n: fc.integer({ min: 1, max: 40 }), d: fc.integer({ min: 1, max: 10 }) }).chain(({ n, d }) =>
  fc.record({
    obs: fc.array(f32, { minLength: n * d, maxLength: n * d }),
    next: fc.array(f32, { minLength: n * d, maxLength: n * d }),
    chain: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    actions: fc.array(fc.integer({ min: 0, max: 17 }), { minLength: n, maxLength: n }),
    rewards: fc.array(f32, { minLength: n, maxLength: n }),
    term: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    trunc: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
  }).map((c): TransitionBatch => {
    const obs = Float32Array.from(c.obs);
    const nextObs = Float32Array.from(c.next);
    // Chain most rows like a real trajectory (nextObs[i] == obs[i+1]) so the dedup path is exercised.
    for (let i = 0; i + 1 < n; i++) if (c.chain[i]) nextObs.set(obs.subarray((i + 1) * d, (i + 2) * d), i * d);
    return {
      n, obsDim: d, obs, nextObs,
      actions: Int32Array.from(c.actions), rewards: Float32Array.from(c.rewards),
      terminated: Uint8Array.from(c.term, Number), truncated: Uint8Array.from(c.trunc, Number),
    };
  }),
);

function msgOf(batch: TransitionBatch, seq = 7): TransitionMessage {
  return { actor: "site-3", env: "LunarLander-v3", seq, ts: 1700000000000, batch };
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(CodecError);
    return (e as CodecError).reason;
  }
  throw new Error("expected a CodecError");
}

const layout = makeLayout([{ name: "dense0/kernel", shape: [3, 4] }, { name: "dense0/bias", shape: [4] }]);
const paramsArb = fc.array(f32, { minLength: 16, maxLength: 16 }).map((a) => Float32Array.from(a));

describe("codec", () => {
  it("plain msgpackr pack() corrupts Float32Array (the trap we avoid)", () => {
    const a = new Float32Array([1.5, -2.25, 3.125]);
    const back = unpack(pack({ a })) as { a: unknown };
    const same = back.a instanceof Float32Array && back.a.length === 3 && back.a.every((v, i) => v === a[i]);
    expect(same, "if this starts passing, msgpackr changed its default; keep our explicit byte columns anyway").to.equal(false);
  });

  it("round-trips transition batches exactly", () => {
    fc.assert(fc.property(batchArb, fc.integer({ min: 0, max: 2 ** 40 }), (batch, seq) => {
      const back = decodeTransitions(encodeTransitions(msgOf(batch, seq)));
      expect(back.actor).to.equal("site-3");
      expect(back.env).to.equal("LunarLander-v3");
      expect(back.seq).to.equal(seq);
      const b = back.batch;
      expect(b.n).to.equal(batch.n);
      expect(b.obsDim).to.equal(batch.obsDim);
      expect(b.obs).to.be.instanceOf(Float32Array);
      expect(Array.from(b.obs)).to.deep.equal(Array.from(batch.obs));
      expect(Array.from(b.nextObs)).to.deep.equal(Array.from(batch.nextObs));
      expect(Array.from(b.actions)).to.deep.equal(Array.from(batch.actions));
      expect(Array.from(b.rewards)).to.deep.equal(Array.from(batch.rewards));
      expect(Array.from(b.terminated)).to.deep.equal(Array.from(batch.terminated));
      expect(Array.from(b.truncated)).to.deep.equal(Array.from(batch.truncated));
    }), { numRuns: 150 });
  });

  it("round-trips weights and global model messages exactly", () => {
    fc.assert(fc.property(paramsArb, fc.nat(), fc.nat(), (params, version, samples) => {
      const w = decodeWeights(encodeWeights({ actor: "a1", version, samples, ts: 5, layout, params }), layout);
      expect(w.actor).to.equal("a1");
      expect(w.version).to.equal(version);
      expect(w.samples).to.equal(samples);
      expect(w.layout).to.deep.equal(layout);
      expect(Array.from(w.params)).to.deep.equal(Array.from(params));
      const g = decodeGlobal(encodeGlobal({ version, round: samples, ts: 9, layout, params }), layout);
      expect(g.round).to.equal(samples);
      expect(Array.from(g.params)).to.deep.equal(Array.from(params));
    }), { numRuns: 100 });
  });

  it("rejects every truncation of a payload", () => {
    fc.assert(fc.property(batchArb, (batch) => {
      const bytes = encodeTransitions(msgOf(batch));
      for (let cut = 0; cut < bytes.length; cut += Math.max(1, bytes.length >> 4)) {
        expect(["bad_frame", "checksum"]).to.include(reason(() => decodeTransitions(bytes.subarray(0, cut))));
      }
    }), { numRuns: 30 });
    const w = encodeWeights({ actor: "a1", version: 1, samples: 1, ts: 1, layout, params: new Float32Array(16) });
    expect(reason(() => decodeWeights(w.subarray(0, w.length - 1)))).to.equal("checksum");
  });

  it("rejects bit flips anywhere in the frame", () => {
    fc.assert(fc.property(batchArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (batch, pos, bit) => {
      const bytes = encodeTransitions(msgOf(batch)).slice();
      bytes[pos % bytes.length]! ^= 1 << bit;
      const r = reason(() => decodeTransitions(bytes));
      expect(r).to.be.a("string");
    }), { numRuns: 200 });
    fc.assert(fc.property(paramsArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (params, pos, bit) => {
      const bytes = encodeWeights({ actor: "a1", version: 1, samples: 1, ts: 1, layout, params }).slice();
      bytes[pos % bytes.length]! ^= 1 << bit;
      expect(reason(() => decodeWeights(bytes))).to.be.a("string");
    }), { numRuns: 200 });
  });

  it("a flipped bit with a recomputed CRC is refused by the signature (signed weights and global model)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    fc.assert(fc.property(paramsArb, fc.nat(), fc.integer({ min: 0, max: 7 }), fc.boolean(), (params, pos, bit, global) => {
      const bytes = (global
        ? encodeGlobal({ version: 9, round: 2, ts: 1, layout, params }, privateKey)
        : encodeWeights({ actor: "a1", version: 1, samples: 1, ts: 1, layout, params }, privateKey)).slice();
      bytes[12 + (pos % (bytes.length - 12))]! ^= 1 << bit;
      new DataView(bytes.buffer).setUint32(8, crc32(bytes.subarray(12)), true);
      let ok: boolean;
      try {
        ok = global ? ((g) => verifyBytes(signedGlobalBytes(g), g.sig, publicKey))(decodeGlobal(bytes, layout))
          : ((w) => verifyBytes(signedWeightsBytes(w), w.sig, publicKey))(decodeWeights(bytes, layout));
      } catch (e) {
        expect(e).to.be.instanceOf(CodecError); // refused by the codec already
        return;
      }
      expect(ok).to.equal(false);
    }), { numRuns: 300 });
  });

  it("rejects oversized payloads and inflation beyond the limit", () => {
    const big = { ...DEFAULT_LIMITS, maxBytes: 64 };
    const batch: TransitionBatch = {
      n: 500, obsDim: 8, obs: new Float32Array(4000), nextObs: new Float32Array(4000), actions: new Int32Array(500),
      rewards: new Float32Array(500), terminated: new Uint8Array(500), truncated: new Uint8Array(500),
    };
    const bytes = encodeTransitions(msgOf(batch)); // zeros deflate to far fewer bytes than they inflate to
    expect(bytes.length).to.be.lessThan(4000);
    expect(reason(() => decodeTransitions(bytes, {}, { ...DEFAULT_LIMITS, maxBytes: bytes.length + 10 }))).to.equal("too_large");
    expect(reason(() => decodeTransitions(bytes, {}, big))).to.equal("too_large");
    expect(reason(() => decodeTransitions(bytes, {}, { ...DEFAULT_LIMITS, maxRows: 100 }))).to.equal("schema");
  });

  it("stops inflating a bomb at the limit instead of inflating all of it", () => {
    // A valid frame whose deflated body inflates to 256 MiB of zeros (≈ 255 KB on the wire).
    const body = deflateSync(new Uint8Array(256 << 20), { level: 9 });
    const frame = encodeTransitions(msgOf(syntheticBatch(10, 4, 2, new Random(1))));
    const bomb = new Uint8Array(12 + body.length);
    bomb.set(frame.subarray(0, 12));
    new DataView(bomb.buffer).setUint32(8, crc32(body), true);
    bomb.set(body, 12);
    expect(bomb[4]! & 1).to.equal(1); // the deflated flag of the copied header
    const before = process.memoryUsage().arrayBuffers;
    expect(reason(() => decodeTransitions(bomb, {}, { ...DEFAULT_LIMITS, maxBytes: 1 << 20 }))).to.equal("too_large");
    // Inflating it all would hold 256 MiB of chunks; stopping at the limit holds about 1–2 MiB.
    expect(process.memoryUsage().arrayBuffers - before).to.be.lessThan(64 << 20);
  });

  it("the body is plain MessagePack (wire v2): another decoder reads every message, columns as bin", () => {
    const body = (frame: Uint8Array) => (frame[4]! & 1 ? inflateSync(frame.subarray(12)) : frame.subarray(12));
    expect(WIRE_VERSION).to.equal(2);
    const b = syntheticBatch(5, 3, 2, new Random(3));
    const t = decodePlain(body(encodeTransitions(msgOf(b)))) as Record<string, unknown>;
    expect(t).to.include({ actor: "site-3", n: 5, d: 3 });
    expect(t.obs).to.be.instanceOf(Uint8Array);
    // obs is byte-shuffled little-endian float32: unshuffle and compare
    const sh = t.obs as Uint8Array, n = sh.length / 4, raw = new Uint8Array(sh.length);
    for (let i = 0; i < n; i++) for (let k = 0; k < 4; k++) raw[4 * i + k] = sh[k * n + i]!;
    expect(Array.from(new Float32Array(raw.buffer))).to.deep.equal(Array.from(b.obs));
    const layout = makeLayout([{ name: "w", shape: [2, 2] }]);
    const w = decodePlain(body(encodeWeights({ actor: "a", version: 3, samples: 7, ts: 1, layout, params: Float32Array.from([1, -2, 3.5, 4]) }))) as Record<string, unknown>;
    expect(w).to.include({ actor: "a", version: 3, samples: 7 });
    expect(Array.from(new Float32Array((w.params as Uint8Array).slice().buffer))).to.deep.equal([1, -2, 3.5, 4]);
    const g = decodePlain(body(encodeGlobal({ version: 9, round: 2, ts: 1, layout, params: new Float32Array(4) }))) as Record<string, unknown>;
    expect(g).to.include({ version: 9, round: 2 });
    // a v1 frame is refused by version
    const old = encodeWeights({ actor: "a", version: 3, samples: 7, ts: 1, layout, params: new Float32Array(4) });
    old[2] = 1;
    expect(reason(() => decodeWeights(old))).to.equal("bad_version");
  });

  it("rejects NaN and Infinity anywhere, wrong dims and out-of-range actions", () => {
    const mk = (): TransitionBatch => ({
      n: 3, obsDim: 2, obs: Float32Array.from([1, 2, 3, 4, 5, 6]), nextObs: Float32Array.from([3, 4, 5, 6, 7, 8]),
      actions: Int32Array.from([0, 1, 2]), rewards: Float32Array.from([1, 1, 1]),
      terminated: Uint8Array.from([0, 0, 1]), truncated: new Uint8Array(3),
    });
    for (const col of ["obs", "nextObs", "rewards"] as const) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const b = mk();
        b[col][1] = bad;
        expect(reason(() => decodeTransitions(encodeTransitions(msgOf(b))))).to.equal("non_finite");
      }
    }
    const ok = encodeTransitions(msgOf(mk()));
    expect(reason(() => decodeTransitions(ok, { obsDim: 8 }))).to.equal("size_mismatch");
    expect(reason(() => decodeTransitions(ok, { actionCount: 2 }))).to.equal("schema");
    expect(decodeTransitions(ok, { obsDim: 2, actionCount: 3 }).batch.n).to.equal(3);
    const p = new Float32Array(16); p[3] = NaN;
    expect(reason(() => decodeWeights(encodeWeights({ actor: "a1", version: 1, samples: 1, ts: 1, layout, params: p })))).to.equal("non_finite");
  });

  it("rejects bad ids, foreign kinds, garbage and mismatched layouts", () => {
    const b: TransitionBatch = {
      n: 1, obsDim: 1, obs: new Float32Array(1), nextObs: new Float32Array(1), actions: new Int32Array(1),
      rewards: new Float32Array(1), terminated: new Uint8Array(1), truncated: new Uint8Array(1),
    };
    expect(reason(() => decodeTransitions(encodeTransitions({ ...msgOf(b), actor: "bad.actor" })))).to.equal("bad_id");
    expect(reason(() => decodeTransitions(encodeTransitions({ ...msgOf(b), actor: "" })))).to.equal("bad_id");
    const w = encodeWeights({ actor: "a1", version: 1, samples: 1, ts: 1, layout, params: new Float32Array(16) });
    expect(reason(() => decodeTransitions(w))).to.equal("bad_kind");
    expect(reason(() => decodeGlobal(w))).to.equal("bad_kind");
    expect(reason(() => decodeWeights(new TextEncoder().encode("hello, this is not a frame")))).to.equal("bad_frame");
    const other = makeLayout([{ name: "dense0/kernel", shape: [4, 4] }]);
    expect(reason(() => decodeWeights(w, other))).to.equal("layout_mismatch");
    expect(() => encodeWeights({ actor: "a1", version: 1, samples: 1, ts: 1, layout, params: new Float32Array(3) })).to.throw(CodecError);
  });

  it("never throws anything but CodecError on random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, header) => {
      const data = header ? Uint8Array.from([0x46, 0x52, 1, 1, 1, 0, 0, 0, ...bytes]) : bytes;
      for (const dec of [() => decodeTransitions(data), () => decodeWeights(data), () => decodeGlobal(data)]) {
        try { dec(); } catch (e) { expect(e).to.be.instanceOf(CodecError); }
      }
    }), { numRuns: 300 });
  });
});
