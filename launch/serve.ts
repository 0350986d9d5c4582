/**
 * `fedrl serve --checkpoint DIR --port P [--host 127.0.0.1]`: a trained policy behind node:http.
 *
 *   POST /predict  {observations: number[][]} | {flows: FlowRecord[]}
 *                  → {actions, actionNames, scores, blockScore}, one entry per row
 *   POST /explain  the same body (+ optional baseline "benign-mean" | "zeros", action NAME)
 *                  → integrated gradients per row (launch/attribution.ts): {actions, actionNames,
 *                    fields, baseline, attributions, score, baselineScore, steps, relativeError}
 *   GET  /healthz  {ok, checkpoint, env, obsDim, actions, uptime}
 *   GET  /metrics  Prometheus text: this server's own prom-client Registry (requests by route and
 *                  status, latency histogram by route, rows scored)
 *
 * `observations` rows are the env's observation vectors (exactly obsDim finite numbers, |x| ≤ 1e6);
 * `flows` (IoTIntrusion-v0 only) are raw flow records mapped through the env's own feature scaler
 * (envs/iot/serving.ts: the 14 canonical features are required, device_type and the device/gateway
 * context are optional and default to a fresh device's state). `scores` are the policy's per-action
 * preferences (DQN: Q-values); `blockScore` = max over actions other than allow − allow's score
 * (IoTIntrusion-v0: > 0 when the policy acts on the flow; a continuous suspicion score for ROC curves).
 *
 * Refusals are JSON {error, field} naming the offending field: 400 (bad JSON, schema, sizes), 404,
 * 405 (method), 413 (body over the limit), 415 (content-type not application/json). A handler error is
 * a 500; nothing a client sends takes the process down. Batches: at most maxRows rows for /predict,
 * maxExplainRows for /explain (each row costs up to maxSteps+1 gradient evaluations).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { listenOn } from "./http";
import { Counter, Histogram, Registry } from "prom-client";
import { z } from "zod";
import { make, TimeLimit } from "../envs/index";
import { IoTIntrusionEnv } from "../envs/iot/intrusion";
import { FlowRecordSchema, flowsToObservations } from "../envs/iot/serving";
import type { MinMaxScaler } from "../envs/iot/traffic";
import { argmaxRows, integratedGradients } from "./attribution";
import { UsageError, UserError } from "./errors";
import { blockScore } from "../envs/iot/detection";
import { baselineOf, collectDecisions, EXPLAIN_ENV, loadPolicy, type BaselineKind, type Policy } from "./explain";

export interface ServeLimits {
  /** request body bytes (413 above); default 2 MiB */
  maxBodyBytes: number;
  /** rows per /predict (default 1024) */
  maxRows: number;
  /** rows per /explain (default 64) */
  maxExplainRows: number;
  /** largest |value| in an observation (default 1e6): finite but absurd numbers are refused */
  maxAbs: number;
  /** most trapezoid steps per explained row (default 1024) */
  maxSteps: number;
}

export const DEFAULT_LIMITS: ServeLimits = { maxBodyBytes: 2 * 1024 * 1024, maxRows: 1024, maxExplainRows: 64, maxAbs: 1e6, maxSteps: 1024 };

export class ServePortInUse extends UserError {
  constructor(host: string, port: number, cause: string) {
    super(`fedrl serve: --port ${port}: cannot listen on ${host}:${port} (${cause}); pick another --port (0 = any free port)`);
    this.name = "ServePortInUse";
  }
}

export interface ServeOptions {
  policy: Policy;
  port: number;
  host: string;
  /** the env's feature scaler for {flows} bodies (null: flows refused) */
  scaler: MinMaxScaler | null;
  /** baselines /explain offers, by name (the first is the default) */
  baselines: Partial<Record<BaselineKind, Float32Array>>;
  limits?: Partial<ServeLimits>;
  log?: (line: string) => void;
}

export interface ServeServer {
  url: string;
  port: number;
  registry: Registry;
  close(): Promise<void>;
}

/** A refusal: HTTP status, message, the offending field (null when it is the request as a whole). */
class Refusal extends Error {
  constructor(readonly status: number, message: string, readonly field: string | null) {
    super(message);
  }
}

const ROUTES = ["/predict", "/explain", "/healthz", "/metrics"] as const;
const METHODS: Record<string, string[]> = { "/predict": ["POST"], "/explain": ["POST"], "/healthz": ["GET", "HEAD"], "/metrics": ["GET", "HEAD"] };

/** "observations[3][7]", "flows[0].ttl" from a zod issue path. */
function fieldOf(path: readonly PropertyKey[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || "body";
}

function refusalOf(e: z.ZodError): Refusal {
  const i = e.issues[0]!;
  let field = fieldOf(i.path);
  let msg = i.message;
  if (i.code === "unrecognized_keys") {
    field = fieldOf([...i.path, i.keys[0]!]);
    msg = "unknown field";
  }
  return new Refusal(400, `${field}: ${msg}`, field);
}

/** The body schemas of one server (observation length and limits fixed at start). */
function schemas(D: number, L: ServeLimits, actionNames: string[], baselines: string[]) {
  const value = z.number({ error: (iss) => (iss.input === undefined ? "required" : "must be a finite number") })
    .min(-L.maxAbs, `must be within ±${L.maxAbs}`).max(L.maxAbs, `must be within ±${L.maxAbs}`);
  const row = z.array(value, { error: `must be an array of ${D} numbers` }).length(D, `must hold exactly ${D} numbers`);
  const rows = (max: number) => z.array(row, { error: "must be an array of rows" }).min(1, "must hold at least one row").max(max, `at most ${max} rows per request`);
  const flows = (max: number) => z.array(FlowRecordSchema, { error: "must be an array of flow records" }).min(1, "must hold at least one flow").max(max, `at most ${max} flows per request`);
  const explainExtra = {
    baseline: z.enum(baselines as [string, ...string[]], { error: `must be one of ${baselines.join(", ")}` }).optional(),
    action: z.enum(actionNames as [string, ...string[]], { error: `must be one of ${actionNames.join(", ")}` }).optional(),
  };
  return {
    predict: { observations: z.strictObject({ observations: rows(L.maxRows) }), flows: z.strictObject({ flows: flows(L.maxRows) }) },
    explain: { observations: z.strictObject({ observations: rows(L.maxExplainRows), ...explainExtra }), flows: z.strictObject({ flows: flows(L.maxExplainRows), ...explainExtra }) },
  };
}

/** Reads the body up to `max` bytes (413 beyond, without reading the rest). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(new Refusal(413, `body: ${declared} bytes, the limit is ${max}`, "body"));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0, done = false;
    req.on("data", (c: Buffer) => {
      if (done) return;
      n += c.length;
      if (n > max) {
        done = true;
        req.pause();
        reject(new Refusal(413, `body: over the limit of ${max} bytes`, "body"));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => { if (!done) { done = true; resolve(Buffer.concat(chunks)); } });
    req.on("error", (e) => { if (!done) { done = true; reject(e); } });
    req.on("aborted", () => { if (!done) { done = true; reject(new Refusal(400, "body: the client aborted the request", "body")); } });
  });
}

/** Starts the server; rejects with ServePortInUse when it cannot listen. */
export async function startServe(o: ServeOptions): Promise<ServeServer> {
  const L: ServeLimits = { ...DEFAULT_LIMITS, ...o.limits };
  const log = o.log ?? (() => {});
  const { policy } = o;
  const { model, actionNames, fields } = policy;
  const D = model.obsDim, A = model.actionCount;
  const iot = policy.exp.env.id === EXPLAIN_ENV;
  const baselineNames = Object.keys(o.baselines) as BaselineKind[];
  if (!baselineNames.length) throw new Error("startServe: no baseline for /explain");
  const S = schemas(D, L, actionNames, baselineNames);
  const t0 = Date.now();

  const registry = new Registry();
  const requests = new Counter({ name: "fedrl_serve_requests_total", help: "HTTP requests answered, by route and status", labelNames: ["route", "status"], registers: [registry] });
  const latency = new Histogram({ name: "fedrl_serve_request_seconds", help: "Time from request to response, by route", labelNames: ["route"], registers: [registry], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5] });
  const rowsScored = new Counter({ name: "fedrl_serve_rows_total", help: "Rows scored (predict) or explained (explain)", labelNames: ["route"], registers: [registry] });

  /** The observations of a validated body (N × D). */
  const observationsOf = (body: { observations?: number[][]; flows?: z.infer<typeof FlowRecordSchema>[] }): { X: Float32Array; N: number } => {
    if (body.observations) {
      const N = body.observations.length;
      const X = new Float32Array(N * D);
      body.observations.forEach((r, i) => X.set(r, i * D));
      return { X, N };
    }
    return { X: flowsToObservations(body.flows!, o.scaler!), N: body.flows!.length };
  };

  const parse = (raw: Buffer, kind: "predict" | "explain") => {
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (e) {
      throw new Refusal(400, `body: not valid JSON (${(e as Error).message.split("\n")[0]!.slice(0, 120)})`, "body");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Refusal(400, "body: must be a JSON object with observations or flows", "body");
    const has = (k: string) => Object.prototype.hasOwnProperty.call(body, k);
    if (has("observations") === has("flows")) throw new Refusal(400, "body: give exactly one of observations (number[][]) or flows (raw flow records)", has("flows") ? "flows" : "observations");
    if (has("flows") && !o.scaler) throw new Refusal(400, `flows: this server's env (${policy.exp.env.id}) has no flow scaler; send observations`, "flows");
    const schema = has("flows") ? S[kind].flows : S[kind].observations;
    const r = schema.safeParse(body);
    if (!r.success) throw refusalOf(r.error);
    return r.data as { observations?: number[][]; flows?: z.infer<typeof FlowRecordSchema>[]; baseline?: BaselineKind; action?: string };
  };

  const predict = (raw: Buffer) => {
    const { X, N } = observationsOf(parse(raw, "predict"));
    const scores = model.scores(X, N);
    const actions = argmaxRows(scores, N, A);
    rowsScored.inc({ route: "predict" }, N);
    const rows: number[][] = [];
    for (let r = 0; r < N; r++) rows.push(Array.from(scores.subarray(r * A, (r + 1) * A)));
    const out: Record<string, unknown> = { actions: Array.from(actions), actionNames: Array.from(actions, (a) => actionNames[a]!), scores: rows };
    if (iot) out.blockScore = Array.from({ length: N }, (_, r) => blockScore(scores.subarray(r * A, (r + 1) * A)));
    return out;
  };

  const explain = (raw: Buffer) => {
    const body = parse(raw, "explain");
    const { X, N } = observationsOf(body);
    const kind = body.baseline ?? baselineNames[0]!;
    const base = o.baselines[kind]!;
    const fixed = body.action === undefined ? null : actionNames.indexOf(body.action);
    const actions = fixed === null ? argmaxRows(model.scores(X, N), N, A) : new Int32Array(N).fill(fixed);
    const res = Array.from({ length: N }, (_, r) => integratedGradients(model, X.subarray(r * D, (r + 1) * D), base, actions[r]!, { maxSteps: L.maxSteps }));
    rowsScored.inc({ route: "explain" }, N);
    return {
      actions: Array.from(actions), actionNames: Array.from(actions, (a) => actionNames[a]!), fields, baseline: kind,
      attributions: res.map((g) => Array.from(g.attributions)), score: res.map((g) => g.score), baselineScore: res.map((g) => g.baselineScore),
      steps: res.map((g) => g.steps), relativeError: res.map((g) => (Number.isFinite(g.relativeError) ? g.relativeError : null)),
    };
  };

  const send = (res: ServerResponse, route: string, started: bigint, status: number, body: string, type = "application/json", extra: Record<string, string> = {}) => {
    if (!res.headersSent) {
      res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(body)), "cache-control": "no-store", "x-content-type-options": "nosniff", ...extra });
      res.end(body);
    } else res.destroy();
    requests.inc({ route, status: String(status) });
    latency.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
  };
  const json = (v: unknown) => JSON.stringify(v) + "\n";

  const handle = async (req: IncomingMessage, res: ServerResponse, started: bigint): Promise<void> => {
    const method = req.method ?? "";
    let path: string;
    try {
      path = new URL(req.url ?? "", "http://localhost").pathname;
    } catch {
      return send(res, "other", started, 400, json({ error: "request target: not a valid URL path", field: "url" }), "application/json", { connection: "close" });
    }
    const route = (ROUTES as readonly string[]).includes(path) ? path : null;
    const label = route ? route.slice(1) : "other";
    if (!route) return send(res, label, started, 404, json({ error: `not found: ${path.slice(0, 200)}; routes: POST /predict, POST /explain, GET /healthz, GET /metrics`, field: "url" }));
    const allowed = METHODS[route]!;
    if (!allowed.includes(method)) return send(res, label, started, 405, json({ error: `method ${method.slice(0, 20)} not allowed on ${route}; use ${allowed.join(" or ")}`, field: "method" }), "application/json", { allow: allowed.join(", ") });
    if (route === "/healthz") return send(res, label, started, 200, method === "HEAD" ? "" : json({ ok: true, checkpoint: policy.dir, env: policy.exp.env.id, obsDim: D, actions: actionNames, uptime: (Date.now() - t0) / 1000 }));
    if (route === "/metrics") return send(res, label, started, 200, method === "HEAD" ? "" : await registry.metrics(), registry.contentType);
    const ctype = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (ctype !== "application/json") {
      return send(res, label, started, 415, json({ error: `content-type: expected application/json, got ${ctype ? `"${ctype.slice(0, 60)}"` : "none"}`, field: "content-type" }), "application/json", { connection: "close" });
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, L.maxBodyBytes);
    } catch (e) {
      if (e instanceof Refusal) return send(res, label, started, e.status, json({ error: e.message, field: e.field }), "application/json", { connection: "close" });
      throw e;
    }
    try {
      const out = route === "/predict" ? predict(raw) : explain(raw);
      return send(res, label, started, 200, json(out));
    } catch (e) {
      if (e instanceof Refusal) return send(res, label, started, e.status, json({ error: e.message, field: e.field }));
      throw e;
    }
  };

  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 20_000, keepAliveTimeout: 10_000 }, (req, res) => {
    const started = process.hrtime.bigint();
    req.on("error", () => {}); // a reset connection: nothing to answer
    handle(req, res, started).catch((e) => {
      log(`serve: ${req.method} ${req.url?.slice(0, 200)}: ${(e as Error)?.message ?? e}`);
      send(res, "other", started, 500, json({ error: "internal error", field: null }));
    });
  });
  await listenOn(server, o.host, o.port, (cause) => new ServePortInUse(o.host, o.port, cause), log, "serve");
  const port = (server.address() as AddressInfo).port;
  const shown = o.host === "0.0.0.0" || o.host === "::" ? "127.0.0.1" : o.host.includes(":") ? `[${o.host}]` : o.host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    registry,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** The env's feature scaler when the policy's env is IoTIntrusion-v0 (the one its observations were scaled with), else null. */
export function envScaler(p: Policy): MinMaxScaler | null {
  if (p.exp.env.id !== EXPLAIN_ENV) return null;
  const env = make(p.exp.env.id, { ...p.exp.env.options });
  const inner = env instanceof TimeLimit ? env.inner : env;
  env.close?.();
  return inner instanceof IoTIntrusionEnv ? inner.scaler : null;
}

/** /explain's baselines: benign-mean from 1000 flows of the run's held-out set (IoTIntrusion-v0) and zeros. */
export function serveBaselines(p: Policy): Partial<Record<BaselineKind, Float32Array>> {
  const D = p.model.obsDim;
  if (p.exp.env.id !== EXPLAIN_ENV) return { zeros: new Float32Array(D) };
  const { decisions } = collectDecisions(p, 1000);
  return { "benign-mean": baselineOf("benign-mean", decisions, D), zeros: new Float32Array(D) };
}

export interface ServeFlags { checkpoint?: string; port?: string; host?: string; env?: string; config?: string; sets: string[] }

/** Runs until SIGINT/SIGTERM, then closes the server (in-flight requests answered) and returns 0. */
export async function serveCommand(f: ServeFlags, usage: string, log: (l: string) => void): Promise<number> {
  if (!f.checkpoint) throw new UsageError("fedrl serve needs --checkpoint DIR (a checkpoint or a run folder)", usage);
  if (f.port === undefined) throw new UsageError("fedrl serve needs --port PORT (0 = any free port)", usage);
  if (!/^\d+$/.test(f.port) || Number(f.port) > 65535) throw new UsageError(`--port: expected a port number (0-65535), got "${f.port}"`, usage);
  const host = f.host ?? "127.0.0.1";
  const policy = await loadPolicy({ checkpoint: f.checkpoint, env: f.env, config: f.config, sets: f.sets });
  let server: ServeServer | null = null;
  try {
    server = await startServe({ policy, port: Number(f.port), host, scaler: envScaler(policy), baselines: serveBaselines(policy), log });
    log(`fedrl serve: ${policy.dir} (${policy.exp.env.id}, ${policy.model.obsDim} observation values → ${policy.model.actionCount} actions) listening on ${server.url} · POST /predict, POST /explain, GET /healthz, GET /metrics · Ctrl-C stops`);
    const sig = await new Promise<string>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    await server.close();
    server = null;
    log(`fedrl serve: ${sig}: closed`);
    return 0;
  } finally {
    await server?.close();
    policy.agent.dispose();
  }
}
