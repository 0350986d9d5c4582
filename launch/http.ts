/**
 * The run's HTTP endpoint (launch-level service; `--http PORT` or config http.port):
 *   GET /          live dashboard (launch/dashboard/, uPlot from node_modules: no CDN)
 *   GET /api/state JSON the dashboard polls (history since ?since=seconds)
 *   GET /metrics   Prometheus text format (the process's own prom-client Registry)
 *   GET /healthz   liveness: the process answers
 *   GET /readyz    readiness: topology up, NATS and Redis answer, the learner ticks (503 otherwise)
 * It never takes the process down: bad requests get a 4xx, handler errors a 500, and a port in use
 * is one clear error at start (HttpPortInUse).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";
import type { RunMetrics } from "./prom";

export class HttpPortInUse extends Error {
  constructor(readonly host: string, readonly port: number, cause: string) {
    super(`--http ${port}: cannot listen on ${host}:${port} (${cause}); pick another port with --http PORT or http.port`);
    this.name = "HttpPortInUse";
  }
}

export interface HttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const dashboardFile = (name: string) => fileURLToPath(new URL(`./dashboard/${name}`, import.meta.url));

interface Asset { type: string; path: string; body?: Buffer }
const ASSETS: Record<string, Asset> = {
  "/": { type: "text/html; charset=utf-8", path: dashboardFile("index.html") },
  "/app.js": { type: "text/javascript; charset=utf-8", path: dashboardFile("app.js") },
  "/style.css": { type: "text/css; charset=utf-8", path: dashboardFile("style.css") },
  "/vendor/uPlot.iife.min.js": { type: "text/javascript; charset=utf-8", path: require.resolve("uplot/dist/uPlot.iife.min.js") },
  "/vendor/uPlot.min.css": { type: "text/css; charset=utf-8", path: require.resolve("uplot/dist/uPlot.min.css") },
};

function asset(a: Asset): Buffer {
  return (a.body ??= readFileSync(a.path));
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, head = false): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff" });
  res.end(head ? undefined : body);
}

/** Starts the server; rejects with HttpPortInUse when it cannot listen. */
export async function startHttp(metrics: RunMetrics, o: { port: number; host: string; log?: (line: string) => void }): Promise<HttpServer> {
  const log = o.log ?? (() => {});
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? "";
    if (method !== "GET" && method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
    }
    let url: URL;
    try {
      url = new URL(req.url ?? "", "http://localhost");
      decodeURIComponent(url.pathname);
    } catch {
      return send(res, 400, "text/plain; charset=utf-8", "bad request\n");
    }
    const head = method === "HEAD";
    const path = url.pathname === "/index.html" ? "/" : url.pathname;
    const a = ASSETS[path];
    if (a) return send(res, 200, a.type, asset(a), head);
    switch (path) {
      case "/metrics":
        return send(res, 200, metrics.registry.contentType, await metrics.metrics(), head);
      case "/api/state": {
        const raw = url.searchParams.get("since");
        const since = raw === null ? 0 : Number(raw);
        if (!Number.isFinite(since) || since < 0) return send(res, 400, "application/json", JSON.stringify({ error: "since: a non-negative number of seconds" }) + "\n");
        return send(res, 200, "application/json", JSON.stringify(metrics.state(since)), head);
      }
      case "/healthz":
        return send(res, 200, "application/json", JSON.stringify({ ok: true, uptime: (Date.now() - metrics.t0) / 1000 }) + "\n", head);
      case "/readyz": {
        const r = await metrics.ready();
        return send(res, r.ok ? 200 : 503, "application/json", JSON.stringify(r) + "\n", head);
      }
      default:
        return send(res, 404, "text/plain; charset=utf-8", "not found: try / (dashboard), /metrics, /healthz, /readyz\n", head);
    }
  };
  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((e) => {
      log(`http: ${req.method} ${req.url}: ${(e as Error)?.message ?? e}`);
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      else res.destroy();
    });
  });
  await listenOn(server, o.host, o.port, (cause) => new HttpPortInUse(o.host, o.port, cause), log, "http");
  const port = (server.address() as AddressInfo).port;
  const shown = o.host === "0.0.0.0" || o.host === "::" ? "127.0.0.1" : o.host.includes(":") ? `[${o.host}]` : o.host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/**
 * Listens on host:port with the handling both of our servers share: a malformed request gets a bare
 * 400 and closes, a port that cannot be had rejects with `inUse(cause)` (one clear line for the
 * user), and later server errors are logged, never thrown.
 */
export async function listenOn(server: Server, host: string, port: number, inUse: (cause: string) => Error, log: (line: string) => void, tag: string): Promise<void> {
  server.on("clientError", (_e, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      reject(e.code === "EADDRINUSE" || e.code === "EACCES" || e.code === "EADDRNOTAVAIL" ? inUse(e.code === "EADDRINUSE" ? "address already in use" : e.code) : e);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
  server.on("error", (e) => log(`${tag}: ${(e as Error).message}`));
}
