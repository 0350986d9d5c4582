// Child process for the two-process persistence test: insert or report, then exit.
import { Redis } from "ioredis";
import { RedisReplay } from "../../transport/replay-redis";
import { allocBatch } from "../../core/batch";

const [mode, run, url] = process.argv.slice(2);
const redis = new Redis(url!);
const replay = await RedisReplay.open(redis, { run: run!, capacity: 1000, obsDim: 3 });
if (mode === "insert") {
  const b = allocBatch(120, 3);
  for (let i = 0; i < 120; i++) {
    b.obs.set([i, i + 0.5, -i], i * 3);
    b.nextObs.set([i + 1, i + 1.5, -i - 1], i * 3);
    b.actions[i] = i % 4;
    b.rewards[i] = i / 10;
  }
  await replay.insert(b);
}
const s = await replay.stats();
const sample = await replay.sample(50);
let consistent = true;
for (let i = 0; i < 50; i++) {
  const x = sample.obs[i * 3]!;
  if (sample.obs[i * 3 + 1] !== x + 0.5 || sample.nextObs[i * 3] !== x + 1 || sample.actions[i] !== x % 4) consistent = false;
}
process.stdout.write(JSON.stringify({ size: s.size, inserted: s.inserted, consistent }) + "\n");
redis.disconnect();
