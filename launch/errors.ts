/**
 * Errors a user can cause: one line naming the cause and the fix, exit 2. Anything else is a bug:
 * one line and exit 1. The stack only with --debug (or FEDRL_DEBUG=1).
 */
import { ConfigError } from "./config";
import { HttpPortInUse } from "./http";

/** Something the user can fix (a flag, a path, a service to start). */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** A wrong command line: the command's usage follows the line. */
export class UsageError extends UserError {
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The line to print and the exit code for an error that reached the top. */
export function describeError(e: unknown): { line: string; code: number } {
  const err = e instanceof Error ? e : new Error(String(e));
  const first = (s: string) => s.split("\n").filter((l) => l.trim()).join("; ");
  if (err instanceof ConfigError) return { line: `config error: ${first(err.message)}`, code: 2 };
  if (err instanceof UserError || err instanceof HttpPortInUse) return { line: first(err.message), code: 2 };
  const code = (err as NodeJS.ErrnoException).code;
  const msg = first(err.message);
  if (/^unknown env id/.test(msg)) return { line: `${msg}; set env.id (or --env) to one of them`, code: 2 };
  if (code === "ENOENT" || /ENOENT/.test(msg)) {
    const path = (err as NodeJS.ErrnoException).path ?? /'([^']+)'/.exec(msg)?.[1] ?? "?";
    return { line: `file not found: ${path}; check the path (datasets: see data/README.md)`, code: 2 };
  }
  if (code === "EACCES" || /EACCES/.test(msg)) return { line: `permission denied: ${(err as NodeJS.ErrnoException).path ?? msg}; run where you can write, or choose --run-dir / runDir`, code: 2 };
  if (/ECONNREFUSED|cannot connect to Redis|CONNECTION_REFUSED/i.test(msg)) return { line: `${msg}; start the service or unset NATS_URL / REDIS_URL for the in-process run`, code: 2 };
  return { line: `error: ${msg} (run with --debug for the stack trace)`, code: 1 };
}
