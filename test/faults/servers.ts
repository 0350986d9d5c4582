/**
 * Private redis-server / nats-server instances for the fault suite: each on a spare loopback port
 * with its own data directory, started, SIGKILLed by PID and restarted on the same port and the
 * same directory (so Redis replays its AOF and NATS recovers its JetStream file store).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port nothing listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Every PID this suite started, so a failing test (or an exiting mocha) still kills them all. */
export const started = new Set<ChildProcess>();

export function killHard(c: ChildProcess): void {
  if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
}

process.once("exit", () => {
  for (const c of started) killHard(c);
});

export const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));

export class ServerProc {
  proc: ChildProcess | null = null;
  /** Time (Date.now()) the latest start became ready. */
  readyAt = 0;
  readonly output: string[] = [];
  constructor(readonly name: string, readonly cmd: string, readonly args: string[], private readonly ready: RegExp, readonly url: string) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(timeoutMs = 20_000): Promise<void> {
    const c = spawn(this.cmd, this.args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = c;
    started.add(c);
    let seen = "";
    let ok = false;
    let failed: Error | null = null;
    c.once("error", (e) => (failed = e));
    const onData = (b: Buffer) => {
      const s = b.toString();
      for (const l of s.split("\n")) if (l.trim()) this.output.push(l);
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
      if (!ok) {
        seen += s;
        if (this.ready.test(seen)) ok = true;
      }
    };
    c.stdout!.on("data", onData);
    c.stderr!.on("data", onData);
    const t0 = Date.now();
    while (!ok) {
      if (failed) throw new Error(`cannot start ${this.cmd} (is it installed? the fault suite runs its own ${this.name}): ${(failed as Error).message}`);
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`${this.name} exited (${c.exitCode ?? c.signalCode}) before it was ready:\n${this.output.slice(-20).join("\n")}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.output.slice(-20).join("\n")}`);
      await sleep(50);
    }
    this.readyAt = Date.now();
  }

  /** kill -9 by PID; resolves once the process is gone. */
  async kill9(): Promise<void> {
    const c = this.proc;
    if (!c) return;
    killHard(c);
    await exited(c);
  }
}

export function redisServer(port: number, dir: string): ServerProc {
  return new ServerProc("redis-server", "redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec",
    "--save", "", "--daemonize", "no", "--protected-mode", "no", "--logfile", "",
  ], /Ready to accept connections/, `redis://127.0.0.1:${port}`);
}

export function natsServer(port: number, dir: string): ServerProc {
  return new ServerProc("nats-server", "nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], /Server is ready/, `nats://127.0.0.1:${port}`);
}
