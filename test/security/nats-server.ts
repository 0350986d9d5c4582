/** An own nats-server (JetStream, own store dir) on a spare loopback port, killed by its PID. */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? (existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server");

export function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface OwnNats {
  url: string;
  port: number;
  pid: number;
  log: string[];
  stop(): Promise<void>;
}

/** Starts `nats-server -c config -a 127.0.0.1 -p <spare> -js -sd <tmp>`; resolves once it listens. */
export async function startNats(config: string, extra: string[] = []): Promise<OwnNats> {
  const storeDir = mkdtempSync(join(tmpdir(), "fedrl-nats-sd-"));
  for (let attempt = 0; ; attempt++) {
    const port = await sparePort();
    const child: ChildProcess = spawn(NATS_SERVER, ["-c", config, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir, ...extra], { stdio: ["ignore", "pipe", "pipe"] });
    const log: string[] = [];
    const onData = (b: Buffer) => void log.push(...b.toString().split("\n").filter(Boolean));
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    const ready = await new Promise<boolean>((resolve) => {
      const t = setInterval(() => {
        if (log.some((l) => /Server is ready/.test(l))) done(true);
      }, 50);
      const done = (ok: boolean) => {
        clearInterval(t);
        child.removeListener("exit", onExit);
        resolve(ok);
      };
      const onExit = () => done(false);
      child.once("exit", onExit);
    });
    if (ready) {
      const pid = child.pid!;
      return {
        url: `nats://127.0.0.1:${port}`, port, pid, log,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            const gone = new Promise<void>((r) => child.once("exit", () => r()));
            process.kill(pid, "SIGTERM");
            const t = setTimeout(() => {
              try {
                process.kill(pid, "SIGKILL");
              } catch {
                /* already gone */
              }
            }, 5000);
            await gone;
            clearTimeout(t);
          }
          rmSync(storeDir, { recursive: true, force: true });
        },
      };
    }
    // The port was taken in between (or the config is bad): retry a few times, then say why.
    if (attempt >= 3) {
      rmSync(storeDir, { recursive: true, force: true });
      throw new Error(`nats-server did not start: ${log.slice(-5).join(" | ")}`);
    }
  }
}
