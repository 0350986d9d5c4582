/**
 * Redis replay: a fixed-capacity ring in one hash. Insert = one Lua call per batch (INCRBY the
 * cursor by n, HSET field (cursor+i) mod capacity → packed row); sample = HMGET of random fields.
 * Keys (hash-tagged by run so they live in one cluster slot):
 *   fedrl:{run}:replay:data    hash  index → row bytes
 *   fedrl:{run}:replay:cursor  int   transitions ever inserted
 *   fedrl:{run}:replay:meta    hash  obsDim, capacity (checked on open)
 * Row (little endian, 4-byte words): obs f32[d] | nextObs f32[d] | action i32 | reward f32 | flags u32 (1 term, 2 trunc)
 */
import type { Redis } from "ioredis";
import { mulberry32 } from "../core/random";
import { allocBatch, type TransitionBatch } from "../core/batch";
import { assertToken } from "./subjects";
import type { ReplayStats, ReplayStore, RowRange } from "../core/replay";

const INSERT_LUA = `
local cap = tonumber(ARGV[1])
local rs = tonumber(ARGV[2])
local blob = ARGV[3]
local n = math.floor(#blob / rs)
local start = redis.call('INCRBY', KEYS[2], n) - n
local args = {}
for i = 0, n - 1 do
  args[#args + 1] = (start + i) % cap
  args[#args + 1] = string.sub(blob, i * rs + 1, (i + 1) * rs)
  if #args >= 2000 then
    redis.call('HSET', KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then redis.call('HSET', KEYS[1], unpack(args)) end
return start + n
`;

/**
 * Insert once per sender batch key (KEYS[3]): the key is set NX with a TTL in the same atomic call,
 * so two ingest workers handed the same retried batch store it once; −1 for the second.
 */
const INSERT_ONCE_LUA = `
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', tonumber(ARGV[4])) == false then return -1 end
${INSERT_LUA}`;
/** How long a batch key is remembered (s): far beyond any sender's retry horizon. */
const DEDUPE_TTL_S = 900;

export interface RedisReplayOptions {
  run: string;
  capacity: number;
  obsDim: number;
  seed?: number;
}

export function rowBytes(obsDim: number): number {
  return 4 * (2 * obsDim + 3);
}

export function replayKeys(run: string) {
  assertToken("run name", run);
  const p = `fedrl:{${run}}:replay`;
  return { data: `${p}:data`, cursor: `${p}:cursor`, meta: `${p}:meta`, seen: (key: string) => `${p}:seen:${key}` };
}

export class RedisReplay implements ReplayStore {
  readonly kind = "redis" as const;
  readonly capacity: number;
  readonly obsDim: number;
  private readonly keys: ReturnType<typeof replayKeys>;
  private readonly rs: number;
  private readonly rand: () => number;
  private knownInserted = 0;
  private corrupt = 0;
  private evictedRows = 0;
  private readonly idx: string[] = [];
  /** Aligned scratch row for decoding (Redis hands back Buffers at arbitrary offsets). */
  private readonly scratch: Uint8Array;
  private readonly scratchF32: Float32Array;
  private readonly scratchI32: Int32Array;

  private constructor(private readonly redis: Redis, opts: RedisReplayOptions) {
    this.capacity = opts.capacity;
    this.obsDim = opts.obsDim;
    this.keys = replayKeys(opts.run);
    this.rs = rowBytes(opts.obsDim);
    const ab = new ArrayBuffer(this.rs);
    this.scratch = new Uint8Array(ab);
    this.scratchF32 = new Float32Array(ab);
    this.scratchI32 = new Int32Array(ab);
    this.rand = mulberry32(opts.seed ?? ((Date.now() ^ process.pid) >>> 0));
    redis.defineCommand("fedrlReplayInsert", { numberOfKeys: 2, lua: INSERT_LUA });
    redis.defineCommand("fedrlReplayInsertOnce", { numberOfKeys: 3, lua: INSERT_ONCE_LUA });
  }

  /** Opens (or creates) the replay of `run`. Refuses one created with another obsDim or capacity. */
  static async open(redis: Redis, opts: RedisReplayOptions): Promise<RedisReplay> {
    if (!Number.isInteger(opts.capacity) || opts.capacity <= 0) throw new Error(`replay capacity must be a positive integer, got ${opts.capacity}`);
    if (!Number.isInteger(opts.obsDim) || opts.obsDim <= 0) throw new Error(`replay obsDim must be a positive integer, got ${opts.obsDim}`);
    const r = new RedisReplay(redis, opts);
    await redis.hsetnx(r.keys.meta, "obsDim", String(opts.obsDim));
    await redis.hsetnx(r.keys.meta, "capacity", String(opts.capacity));
    const meta = await redis.hgetall(r.keys.meta);
    if (Number(meta.obsDim) !== opts.obsDim || Number(meta.capacity) !== opts.capacity) {
      throw new Error(
        `Redis replay for run "${opts.run}" was created with obsDim ${meta.obsDim} and capacity ${meta.capacity}; ` +
          `this run asks for obsDim ${opts.obsDim}, capacity ${opts.capacity}. Use another run name or clear it (fedrl replay-clear).`,
      );
    }
    r.knownInserted = Number((await redis.get(r.keys.cursor)) ?? 0);
    return r;
  }

  private packRows(b: TransitionBatch): Buffer {
    const d = this.obsDim;
    const W = 2 * d + 3;
    const ab = new ArrayBuffer(b.n * W * 4);
    const f32 = new Float32Array(ab);
    const i32 = new Int32Array(ab);
    for (let i = 0; i < b.n; i++) {
      const o = i * W;
      f32.set(b.obs.subarray(i * d, i * d + d), o);
      f32.set(b.nextObs.subarray(i * d, i * d + d), o + d);
      i32[o + 2 * d] = b.actions[i]!;
      f32[o + 2 * d + 1] = b.rewards[i]!;
      i32[o + 2 * d + 2] = (b.terminated[i] ? 1 : 0) | (b.truncated[i] ? 2 : 0);
    }
    return Buffer.from(ab);
  }

  async insert(batch: TransitionBatch, once?: string): Promise<number> {
    if (batch.obsDim !== this.obsDim) throw new Error(`batch obsDim ${batch.obsDim} != replay obsDim ${this.obsDim}`);
    if (batch.n === 0 && once === undefined) return this.knownInserted;
    const r = this.redis as unknown as {
      fedrlReplayInsert(a: string, b: string, c: number, d: number, e: Buffer): Promise<number>;
      fedrlReplayInsertOnce(a: string, b: string, k: string, c: number, d: number, e: Buffer, ttl: number): Promise<number>;
    };
    const total = Number(once === undefined
      ? await r.fedrlReplayInsert(this.keys.data, this.keys.cursor, this.capacity, this.rs, this.packRows(batch))
      : await r.fedrlReplayInsertOnce(this.keys.data, this.keys.cursor, this.keys.seen(once), this.capacity, this.rs, this.packRows(batch), DEDUPE_TTL_S));
    if (total < 0) return -1;
    this.knownInserted = Math.max(this.knownInserted, total);
    return total;
  }

  /** HDELs the still-held slots of the ranges (a later insert into a slot brings it back). */
  async evict(ranges: readonly RowRange[]): Promise<number> {
    const total = Number((await this.redis.get(this.keys.cursor)) ?? 0);
    const fields: string[] = [];
    for (const r of ranges) for (let i = Math.max(r.start, total - this.capacity, 0); i < Math.min(r.end, total); i++) fields.push(String(i % this.capacity));
    let n = 0;
    for (let k = 0; k < fields.length; k += 2000) n += await this.redis.hdel(this.keys.data, ...fields.slice(k, k + 2000));
    this.evictedRows += n;
    return n;
  }

  private async currentSize(): Promise<number> {
    // Once full the ring stays full (until clear), so the cursor need not be read again.
    if (this.knownInserted < this.capacity) this.knownInserted = Math.max(this.knownInserted, Number((await this.redis.get(this.keys.cursor)) ?? 0));
    return Math.min(this.knownInserted, this.capacity);
  }

  async sample(n: number): Promise<TransitionBatch> {
    const size = await this.currentSize();
    if (size === 0) throw new Error("cannot sample from an empty replay");
    const idx = this.idx;
    idx.length = n;
    for (let i = 0; i < n; i++) idx[i] = String(Math.floor(this.rand() * size));
    const rows = await this.redis.hmgetBuffer(this.keys.data, ...idx);
    const d = this.obsDim;
    const out = allocBatch(n, d);
    let j = 0;
    for (const row of rows) {
      if (!row) continue; // an evicted slot
      if (row.length !== this.rs || !this.decodeRow(row, out, j)) {
        this.corrupt++;
        continue;
      }
      j++;
    }
    if (j < n) {
      if (j === 0) throw new Error("replay returned no valid rows (cleared concurrently, or evicted)");
      // Fill the few skipped slots with valid sampled rows so the batch keeps its size.
      for (let i = j; i < n; i++) {
        const src = Math.floor(this.rand() * j);
        out.obs.copyWithin(i * d, src * d, src * d + d);
        out.nextObs.copyWithin(i * d, src * d, src * d + d);
        out.actions[i] = out.actions[src]!;
        out.rewards[i] = out.rewards[src]!;
        out.terminated[i] = out.terminated[src]!;
        out.truncated[i] = out.truncated[src]!;
      }
    }
    return out;
  }

  /** HMGET of the given slots; a slot with no valid row is filled with a copy of a valid one and flagged. */
  async rowsAt(slots: Int32Array): Promise<{ batch: TransitionBatch; missing: Uint8Array | null }> {
    const n = slots.length;
    for (const s of slots) if (!(Number.isInteger(s) && s >= 0 && s < this.capacity)) throw new RangeError(`replay slot ${s} not in [0, ${this.capacity})`);
    const rows = await this.redis.hmgetBuffer(this.keys.data, ...Array.from(slots, String));
    const d = this.obsDim;
    const out = allocBatch(n, d);
    let missing: Uint8Array | null = null;
    let valid = -1;
    rows.forEach((row, i) => {
      if (row && row.length === this.rs && this.decodeRow(row, out, i)) valid = i;
      else {
        if (row) this.corrupt++;
        (missing ??= new Uint8Array(n))[i] = 1;
      }
    });
    if (valid < 0) throw new Error("replay returned no valid rows for the prioritized slots (cleared concurrently, or evicted)");
    if (missing) for (let i = 0; i < n; i++) if ((missing as Uint8Array)[i]) {
      out.obs.copyWithin(i * d, valid * d, valid * d + d);
      out.nextObs.copyWithin(i * d, valid * d, valid * d + d);
      out.actions[i] = out.actions[valid]!;
      out.rewards[i] = out.rewards[valid]!;
      out.terminated[i] = out.terminated[valid]!;
      out.truncated[i] = out.truncated[valid]!;
    }
    return { batch: out, missing };
  }

  private decodeRow(row: Buffer, out: TransitionBatch, j: number): boolean {
    const d = this.obsDim;
    this.scratch.set(row);
    const f = this.scratchF32;
    for (let k = 0; k < 2 * d + 2; k++) if (k !== 2 * d && !Number.isFinite(f[k]!)) return false;
    const a = this.scratchI32[2 * d]!;
    const flags = this.scratchI32[2 * d + 2]!;
    if (a < 0 || flags < 0 || flags > 3) return false;
    out.obs.set(f.subarray(0, d), j * d);
    out.nextObs.set(f.subarray(d, 2 * d), j * d);
    out.actions[j] = a;
    out.rewards[j] = f[2 * d + 1]!;
    out.terminated[j] = flags & 1;
    out.truncated[j] = (flags >> 1) & 1;
    return true;
  }

  /** Also refreshes the insert count: every writer's (ingest workers share the ring), not only this client's. */
  async size(): Promise<number> {
    this.knownInserted = Number((await this.redis.get(this.keys.cursor)) ?? 0);
    return Math.min(this.knownInserted, this.capacity);
  }

  async clear(): Promise<void> {
    await this.redis.del(this.keys.data, this.keys.cursor);
    this.knownInserted = 0;
  }

  async stats(): Promise<ReplayStats> {
    const size = await this.size();
    return { kind: "redis", size, capacity: this.capacity, inserted: this.knownInserted, obsDim: this.obsDim, corruptRows: this.corrupt, evicted: this.evictedRows };
  }

  /** The Redis connection belongs to the caller; closing the replay does not quit it. */
  async close(): Promise<void> {}
}
