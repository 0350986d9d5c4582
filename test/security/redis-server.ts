/** An own redis-server on a spare loopback port (own dir, no persistence unless asked), killed by its PID. */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sparePort } from "./nats-server";

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? (existsSync("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server");

export interface OwnRedis {
  port: number;
  pid: number;
  dir: string;
  log: string[];
  /** SIGKILL (a crash) or SIGTERM; waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

/** `args(port)` gives the listening options (e.g. ["--port", p] or TLS ones). Resolves once it accepts connections. */
export async function startRedis(args: (port: number) => string[], extra: string[] = [], reuseDir?: string): Promise<OwnRedis> {
  const dir = reuseDir ?? mkdtempSync(join(tmpdir(), "fedrl-redis-"));
  for (let attempt = 0; ; attempt++) {
    const port = await sparePort();
    const child: ChildProcess = spawn(REDIS_SERVER, ["--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", ...args(port), ...extra], { stdio: ["ignore", "pipe", "pipe"] });
    const log: string[] = [];
    const onData = (b: Buffer) => void log.push(...b.toString().split("\n").filter(Boolean));
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    const ready = await new Promise<boolean>((resolve) => {
      const t = setInterval(() => {
        if (log.some((l) => /Ready to accept connections/.test(l))) done(true);
      }, 50);
      const done = (ok: boolean) => {
        clearInterval(t);
        child.removeListener("exit", onExit);
        resolve(ok);
      };
      const onExit = () => done(false);
      child.once("exit", onExit);
    });
    const pid = child.pid!;
    const kill = async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      process.kill(pid, signal);
      const t = setTimeout(() => {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }, 5000);
      await gone;
      clearTimeout(t);
    };
    if (ready) {
      return {
        port, pid, dir, log, kill,
        stop: async () => {
          await kill("SIGTERM");
          if (!reuseDir) rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (attempt >= 3) {
      if (!reuseDir) rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start: ${log.slice(-5).join(" | ")}`);
    }
  }
}
