import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { Agent as HttpAgent, request } from "node:http";
import { mkdtempSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { register as globalRegistry } from "prom-client";
import { Random } from "../../core/random";
import { ALLOW, INTRUSION_OBS_FIELDS, INTRUSION_OBS_SIZE, OBS } from "../../envs/iot/intrusion";
import { FLOW_FEATURES, syntheticScaler } from "../../envs/iot/traffic";
import { loadPolicy, type Policy } from "../../launch/explain";
import { envScaler, serveBaselines, startServe, type ServeServer } from "../../launch/serve";

const D = INTRUSION_OBS_SIZE;
const env = { ...process.env, NATS_URL: "", REDIS_URL: "" };
const CLI = join(process.cwd(), "bin/fedrl.mjs");

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; text: string; json?: Record<string, unknown> }

const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 16 });

/** One request with full control of method, headers and raw body bytes. */
function send(base: string, path: string, o: { method?: string; type?: string | null; body?: string | Buffer; chunked?: boolean } = {}): Promise<Reply> {
  const u = new URL(base); // the path goes as given (e.g. "//predict" stays a path)
  const headers: Record<string, string> = {};
  if (o.type !== null) headers["content-type"] = o.type ?? "application/json";
  const body = o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body);
  if (body && !o.chunked) headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: o.method ?? "POST", headers, agent: keepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: Record<string, unknown> | undefined;
        try { json = JSON.parse(text); } catch { /* not JSON (metrics) */ }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body && o.chunked) {
      // several writes without content-length: chunked transfer encoding
      for (let i = 0; i < body.length; i += 256 * 1024) req.write(body.subarray(i, i + 256 * 1024));
      req.end();
    } else req.end(body);
  });
}

const FLOW = { duration_ms: 1200, fwd_pkts: 12, bwd_pkts: 9, fwd_bytes: 2400, bwd_bytes: 5100, pkt_len_mean: 357, pkt_len_std: 120, bytes_per_s: 6250, pkts_per_s: 17.5, iat_mean_ms: 60, syn_count: 1, ttl: 64, dst_port: 443, is_tcp: 1 };

describe("fedrl serve", function () {
  this.timeout(120_000);
  const root = mkdtempSync(join(tmpdir(), "fedrl-serve-"));
  const run = join(root, "run");
  let policy: Policy;
  let server: ServeServer;
  let base = "";
  const rng = new Random(17);
  const obsRow = () => Array.from({ length: D }, () => rng.next());

  before(async () => {
    const r = spawnSync(process.execPath, [CLI, "train-local", "--env", "IoTIntrusion-v0", "--steps", "1500", "--run-dir", run], { encoding: "utf8", env });
    expect(r.status, r.stderr).to.equal(0);
    policy = await loadPolicy({ checkpoint: run });
    server = await startServe({ policy, port: 0, host: "127.0.0.1", scaler: envScaler(policy), baselines: serveBaselines(policy) });
    base = server.url;
  });
  after(async () => {
    await server?.close();
    policy?.agent.dispose();
    keepAlive.destroy();
  });

  it("POST /predict {observations}: the policy's actions, names, scores and blockScore per row", async () => {
    const rows = [obsRow(), obsRow(), obsRow()];
    const r = await send(base, "/predict", { body: JSON.stringify({ observations: rows }) });
    expect(r.status, r.text).to.equal(200);
    const j = r.json as { actions: number[]; actionNames: string[]; scores: number[][]; blockScore: number[] };
    rows.forEach((row, i) => {
      const q = Array.from(policy.agent.actionScores!(row));
      expect(j.scores[i]!.map((v) => Math.fround(v))).to.deep.equal(q);
      expect(j.actions[i]).to.equal(q.indexOf(Math.max(...q)));
      expect(j.actions[i]).to.equal(policy.agent.act(row, "greedy"));
      expect(j.actionNames[i]).to.equal(policy.actionNames[j.actions[i]!]);
      const other = Math.max(...q.filter((_, a) => a !== ALLOW));
      expect(j.blockScore[i]).to.be.closeTo(other - q[ALLOW]!, 1e-9);
      expect(j.blockScore[i]! > 0).to.equal(j.actions[i] !== ALLOW);
    });
  });

  it("POST /predict {flows}: raw records through the env's scaler, context fields defaulting to a fresh device", async () => {
    const r = await send(base, "/predict", { body: JSON.stringify({ flows: [FLOW, { ...FLOW, device_type: "plc", ids_alert: 1, gateway_queue: 0.4 }] }) });
    expect(r.status, r.text).to.equal(200);
    const expected = (extra: (o: Float32Array) => void) => {
      const o = new Float32Array(D);
      syntheticScaler().transformInto(FLOW_FEATURES.map((f) => FLOW[f]), o, OBS.flow);
      extra(o);
      return Array.from(policy.agent.actionScores!(o));
    };
    const j = r.json as { scores: number[][] };
    expect(j.scores[0]!.map((v) => Math.fround(v))).to.deep.equal(expected(() => {}));
    expect(j.scores[1]!.map((v) => Math.fround(v))).to.deep.equal(expected((o) => {
      o[INTRUSION_OBS_FIELDS.indexOf("dev_type.plc")] = 1;
      o[OBS.alert] = 1;
      o[OBS.queue] = 0.4;
    }));
  });

  it("POST /explain: integrated gradients per row, complete within 1 %, against either baseline", async () => {
    const rows = [obsRow(), obsRow()];
    for (const baseline of [undefined, "zeros"]) {
      const r = await send(base, "/explain", { body: JSON.stringify({ observations: rows, ...(baseline ? { baseline } : {}) }) });
      expect(r.status, r.text).to.equal(200);
      const j = r.json as { actions: number[]; fields: string[]; baseline: string; attributions: number[][]; score: number[]; baselineScore: number[] };
      expect(j.baseline).to.equal(baseline ?? "benign-mean");
      expect(j.fields).to.deep.equal([...INTRUSION_OBS_FIELDS]);
      rows.forEach((row, i) => {
        expect(j.actions[i]).to.equal(policy.agent.act(row, "greedy"));
        const delta = j.score[i]! - j.baselineScore[i]!;
        const sum = j.attributions[i]!.reduce((s, v) => s + v, 0);
        expect(Math.abs(sum - delta)).to.be.at.most(Math.max(0.01 * Math.abs(delta), 1e-5));
      });
    }
    const fixed = await send(base, "/explain", { body: JSON.stringify({ flows: [FLOW], action: "drop" }) });
    expect(fixed.status, fixed.text).to.equal(200);
    expect(fixed.json!.actionNames).to.deep.equal(["drop"]);
  });

  it("GET /healthz and /metrics: request counts by route and status and a latency histogram in its own registry", async () => {
    const h = await send(base, "/healthz", { method: "GET", type: null });
    expect(h.status).to.equal(200);
    expect(h.json).to.deep.include({ ok: true, env: "IoTIntrusion-v0", obsDim: D });
    await send(base, "/predict", { body: "{" });
    const m = await send(base, "/metrics", { method: "GET", type: null });
    expect(m.status).to.equal(200);
    expect(m.headers["content-type"]).to.match(/^text\/plain/);
    expect(m.text).to.match(/fedrl_serve_requests_total\{route="predict",status="200"\} \d+/);
    expect(m.text).to.match(/fedrl_serve_requests_total\{route="predict",status="400"\} [1-9]/);
    expect(m.text).to.match(/fedrl_serve_request_seconds_bucket\{le="0.001",route="predict"\} \d+/);
    expect(m.text).to.match(/fedrl_serve_rows_total\{route="explain"\} [1-9]/);
    expect(await globalRegistry.getSingleMetric("fedrl_serve_requests_total")).to.equal(undefined);
  });

  it("refuses what it cannot serve with 4xx JSON {error, field} naming the field", async () => {
    const bad = async (path: string, body: string, status: number, field: string | RegExp, o: { method?: string; type?: string | null } = {}) => {
      const r = await send(base, path, { body, ...o });
      expect(r.status, `${body.slice(0, 80)} → ${r.text}`).to.equal(status);
      expect(r.json, r.text).to.have.property("error").that.is.a("string");
      if (typeof field === "string") expect(r.json!.field, r.text).to.equal(field);
      else expect(String(r.json!.field), r.text).to.match(field);
      return r.json!.error as string;
    };
    const row = obsRow();
    expect(await bad("/predict", JSON.stringify({ observations: [row.slice(0, D - 1)] }), 400, "observations[0]")).to.include(`exactly ${D} numbers`);
    expect(await bad("/predict", JSON.stringify({ observations: [[...row.slice(0, 5), 1e30, ...row.slice(6)]] }), 400, "observations[0][5]")).to.include("within ±1000000");
    await bad("/predict", `{"observations": [[${row.slice(0, D - 1).join(",")}, 1e400]]}`, 400, `observations[0][${D - 1}]`); // JSON's 1e400 is Infinity
    await bad("/predict", JSON.stringify({ observations: [[...row.slice(0, 3), "0.5", ...row.slice(4)]] }), 400, "observations[0][3]");
    await bad("/predict", JSON.stringify({ observations: Array.from({ length: 1025 }, () => row) }), 400, "observations");
    await bad("/predict", JSON.stringify({ observations: [] }), 400, "observations");
    await bad("/predict", JSON.stringify({ observations: [row], extra: 1 }), 400, "extra");
    await bad("/predict", JSON.stringify({ observations: [row], flows: [FLOW] }), 400, "flows");
    await bad("/predict", JSON.stringify({}), 400, "observations");
    await bad("/predict", "[1, 2]", 400, "body");
    await bad("/predict", "{\"observations\": ", 400, "body");
    expect(await bad("/predict", JSON.stringify({ flows: [{ ...FLOW, ttl: 300 }] }), 400, "flows[0].ttl")).to.include("≤ 255");
    expect(await bad("/predict", JSON.stringify({ flows: [{ ...FLOW, bytes_per_sec: 5 }] }), 400, "flows[0].bytes_per_sec")).to.include("unknown field");
    const { dst_port: _p, ...noPort } = FLOW;
    expect(await bad("/predict", JSON.stringify({ flows: [noPort] }), 400, "flows[0].dst_port")).to.include("required");
    await bad("/predict", JSON.stringify({ flows: [{ ...FLOW, device_type: "toaster" }] }), 400, "flows[0].device_type");
    await bad("/predict", JSON.stringify({ flows: [{ ...FLOW, ids_alert: 2 }] }), 400, "flows[0].ids_alert");
    await bad("/explain", JSON.stringify({ observations: Array.from({ length: 65 }, () => row) }), 400, "observations");
    await bad("/explain", JSON.stringify({ observations: [row], baseline: "median" }), 400, "baseline");
    await bad("/explain", JSON.stringify({ observations: [row], action: "reboot" }), 400, "action");
    await bad("/predict", JSON.stringify({ observations: [row] }), 415, "content-type", { type: "text/plain" });
    await bad("/predict", JSON.stringify({ observations: [row] }), 415, "content-type", { type: null });
    const m = await send(base, "/predict", { method: "GET", type: null });
    expect(m.status).to.equal(405);
    expect(m.headers.allow).to.equal("POST");
    expect((await send(base, "/healthz", { method: "POST", body: "{}" })).status).to.equal(405);
    expect((await send(base, "/nope", { method: "GET", type: null })).status).to.equal(404);
    // 413: declared too large, and streamed (chunked) past the limit without a length
    const big = `{"observations": [${Array.from({ length: 6000 }, () => `[${row.join(",")}]`).join(",")}]}`;
    expect(big.length).to.be.greaterThan(2 * 1024 * 1024);
    expect((await send(base, "/predict", { body: big })).status).to.equal(413);
    const chunked = await send(base, "/predict", { body: big, chunked: true });
    expect(chunked.status).to.equal(413);
    expect(chunked.json!.field).to.equal("body");
    expect((await send(base, "/predict", { body: JSON.stringify({ observations: [row] }), type: "application/json; charset=utf-8" })).status).to.equal(200);
  });

  it("fuzz: thousands of random and mutated requests get 2xx/4xx, never a 5xx, and the server keeps answering", async () => {
    const f = new Random(4242);
    const pick = <T>(a: readonly T[]): T => a[f.int(a.length)]!;
    const weird = () => pick<unknown>([null, true, "x", "", {}, [], -0, 1e30, -1e7, 1e308, 5e-324, 0.5, -1, 65536, 1.5, [[]], { a: 1 }, "1e400", Number.MAX_SAFE_INTEGER, [0.1, 0.2]]);
    const randomJson = (depth: number): unknown => {
      const k = f.int(depth > 3 ? 4 : 7);
      if (k === 0) return f.next() * 10 - 5;
      if (k === 1) return pick(["observations", "flows", "a", "", "\u0000", "é"]);
      if (k === 2) return pick([null, true, false]);
      if (k === 3) return weird();
      if (k === 4) return Array.from({ length: f.int(5) }, () => randomJson(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = f.int(4); i > 0; i--) o[pick(["observations", "flows", "baseline", "action", "x", ...FLOW_FEATURES])] = randomJson(depth + 1);
      return o;
    };
    const validBody = (): Record<string, unknown> => (f.next() < 0.5
      ? { observations: Array.from({ length: 1 + f.int(4) }, () => Array.from({ length: D }, () => f.next())) }
      : { flows: Array.from({ length: 1 + f.int(3) }, () => ({ ...FLOW, ...(f.next() < 0.5 ? { device_type: pick(["camera", "plc", "gateway"]) } : {}) })) });
    /** Replaces, deletes or adds one value somewhere in a valid body. */
    const mutate = (b: Record<string, unknown>): unknown => {
      const rows = (b.observations ?? b.flows) as unknown[];
      const op = f.int(8);
      const r = f.int(rows.length);
      if (op === 0) rows[r] = weird();
      else if (op === 1 && Array.isArray(rows[r])) (rows[r] as unknown[])[f.int(D)] = weird();
      else if (op === 1) (rows[r] as Record<string, unknown>)[pick(FLOW_FEATURES)] = weird();
      else if (op === 2 && Array.isArray(rows[r])) (rows[r] as unknown[]).splice(f.int(D), 1 + f.int(3));
      else if (op === 2) delete (rows[r] as Record<string, unknown>)[pick(FLOW_FEATURES)];
      else if (op === 3) b[pick(["baseline", "action", "flows", "observations", "zz"])] = weird();
      else if (op === 4) return [b];
      else if (op === 5) b[b.observations ? "observations" : "flows"] = weird();
      else if (op === 6 && !Array.isArray(rows[r])) (rows[r] as Record<string, unknown>)[pick(["ttl", "is_tcp", "dst_port", "ids_alert", "device_type", "hist_alert_2"])] = weird();
      return b;
    };
    const bodyOf = (): string | Buffer => {
      const k = f.int(10);
      if (k <= 3) return JSON.stringify(mutate(validBody()));
      if (k === 4) return JSON.stringify(validBody());
      if (k === 5) return JSON.stringify(randomJson(0));
      if (k === 6) { const s = JSON.stringify(validBody()); return s.slice(0, f.int(s.length)); }
      if (k === 7) return Buffer.from(Array.from({ length: f.int(300) }, () => f.int(256)));
      if (k === 8) return "[".repeat(1 + f.int(20_000)) + "0" + "]".repeat(f.int(3));
      return JSON.stringify(validBody()).replace(/\d/g, () => (f.next() < 0.05 ? pick(["e", "-", ".", "9e99", ",", "NaN"]) : String(f.int(10))));
    };
    // mostly requests that reach the body checks; some of every other kind
    const paths = [...Array(12).fill("/predict"), ...Array(4).fill("/explain"), "/healthz", "/metrics", "/nope", "/predict?x=1", "//predict", "/predict/"];
    const methods = [...Array(14).fill("POST"), "GET", "PUT", "DELETE", "HEAD"];
    const types = [...Array(12).fill("application/json"), "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", null, "multipart/form-data"];
    const N = 3000;
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < N) {
        next++;
        const method = pick(methods);
        const r = await send(base, pick(paths), { method, type: pick(types), body: method === "GET" || method === "HEAD" ? undefined : bodyOf() });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        expect(r.status, `${r.status}: ${r.text.slice(0, 200)}`).to.be.within(200, 499);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).to.equal(N);
    expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).to.be.greaterThan(N / 30);
    console.log(`      fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
    expect(statuses.get(400) ?? 0, JSON.stringify([...statuses])).to.be.greaterThan(N / 4);
    const h = await send(base, "/healthz", { method: "GET", type: null });
    expect(h.status).to.equal(200);
    const p = await send(base, "/predict", { body: JSON.stringify({ observations: [obsRow()] }) });
    expect(p.status).to.equal(200);
  });
});

describe("fedrl serve as a process", function () {
  this.timeout(120_000);
  const root = mkdtempSync(join(tmpdir(), "fedrl-serve-cli-"));
  const run = join(root, "run");
  let blocker: Server;
  let busy = 0;

  before(async () => {
    const r = spawnSync(process.execPath, [CLI, "train-local", "--env", "IoTIntrusion-v0", "--steps", "1200", "--run-dir", run], { encoding: "utf8", env });
    expect(r.status, r.stderr).to.equal(0);
    blocker = createServer();
    await new Promise<void>((r2) => blocker.listen(0, "127.0.0.1", r2));
    busy = (blocker.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => blocker.close(() => r())));

  it("a port in use is one line and exit 2", () => {
    const r = spawnSync(process.execPath, [CLI, "serve", "--checkpoint", run, "--port", String(busy)], { encoding: "utf8", env });
    expect(r.status, r.stderr).to.equal(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.match(new RegExp(`^fedrl serve: --port ${busy}: cannot listen on 127\\.0\\.0\\.1:${busy} \\(address already in use\\)`));
    const nope = spawnSync(process.execPath, [CLI, "serve", "--checkpoint", run, "--port", "http"], { encoding: "utf8", env });
    expect(nope.status).to.equal(2);
    expect(nope.stderr).to.match(/--port: expected a port number/);
  });

  it("serves until Ctrl-C (SIGINT), then closes cleanly: exit 0, the port released", async () => {
    const child = spawn(process.execPath, [CLI, "serve", "--checkpoint", run, "--port", "0"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    const listening = /listening on (http:\/\/127\.0\.0\.1:(\d+)\/)/;
    for (let i = 0; i < 200 && !listening.test(err); i++) await new Promise((r) => setTimeout(r, 100));
    const m = listening.exec(err);
    expect(m, err).to.not.equal(null);
    const url = m![1]!;
    const p = await fetch(new URL("predict", url), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ flows: [FLOW] }) });
    expect(p.status).to.equal(200);
    expect(((await p.json()) as { actions: number[] }).actions).to.have.length(1);
    child.kill("SIGINT");
    expect(await exited, err).to.equal(0);
    expect(err).to.include("fedrl serve: SIGINT: closed");
    const after = await fetch(new URL("healthz", url)).then(() => "answered", () => "refused");
    expect(after).to.equal("refused");
  });
});
