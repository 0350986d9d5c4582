import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { createServer, connect, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";
import { HttpPortInUse } from "../../launch/http";
import { startLiveRun, type LiveRun } from "./run";

const CLI = fileURLToPath(new URL("../../launch/cli.ts", import.meta.url));

/** A raw request line the HTTP parser refuses; returns the status line the server answered. */
function raw(url: string, request: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => s.write(request));
    let got = "";
    s.on("data", (d) => (got += d.toString()));
    s.on("end", () => resolve(got.split("\r\n")[0]!));
    s.on("error", reject);
  });
}

describe("the HTTP endpoint never takes the process down", function () {
  this.timeout(90_000);
  let run: LiveRun;
  before(async () => { run = await startLiveRun(); });
  after(async () => { await run?.stop(); });

  it("bad requests get a 4xx and the server keeps answering", async () => {
    const at = (p: string, init?: RequestInit) => fetch(new URL(p, run.url), init).then((r) => r.status);
    expect(await at("nope")).to.equal(404);
    expect(await at("metrics", { method: "POST", body: "x" })).to.equal(405);
    expect(await at("metrics", { method: "DELETE" })).to.equal(405);
    expect(await at("api/state?since=-3")).to.equal(400);
    expect(await at("api/state?since=abc")).to.equal(400);
    expect(await at("%E0%A4%A")).to.equal(400);
    expect(await raw(run.url, "THIS IS NOT HTTP\r\n\r\n")).to.match(/^HTTP\/1\.1 400/);
    expect(await raw(run.url, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(40_000)}\r\n\r\n`)).to.match(/^HTTP\/1\.1 4\d\d/);
    expect(await at("healthz")).to.equal(200);
    expect(await at("")).to.equal(200);
    expect(await at("metrics")).to.equal(200);
  });
});

describe("a port in use is one clear error at start", function () {
  this.timeout(90_000);
  let blocker: Server;
  let port: number;
  before(async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    port = (blocker.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => blocker.close(() => r())));

  it("runEmbedded rejects with HttpPortInUse before training", async () => {
    const t0 = Date.now();
    const err = await startLiveRun({ http: { port } }).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(HttpPortInUse);
    expect((err as Error).message).to.include(`127.0.0.1:${port}`).and.to.include("address already in use");
    expect(Date.now() - t0).to.be.below(60_000);
  });

  it("fedrl run --http PORT exits 2 with one line", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", CLI, "run", "--http", String(port), "--set", "clock=steps", "--set", "budget.stepsPerActor=100", "--set", "runDir=/tmp/fedrl-http-port-test"], { encoding: "utf8", env: { ...process.env, NATS_URL: "", REDIS_URL: "" } });
    expect(r.status, r.stderr).to.equal(2);
    const lines = r.stderr.split("\n").filter((l) => l.trim() && !l.startsWith("fedrl run:"));
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.match(new RegExp(`^fedrl: --http ${port}: cannot listen on 127\\.0\\.0\\.1:${port} \\(address already in use\\)`));
  });

  it("fedrl run --http rejects a non-port", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", CLI, "run", "--http", "nine"], { encoding: "utf8", env: { ...process.env, NATS_URL: "", REDIS_URL: "" } });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/--http: expected a port number/);
  });
});
