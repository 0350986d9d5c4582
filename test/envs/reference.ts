import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** `../shared/reference/<name>` relative to the repo root (mocha runs from the root). */
export function referencePath(name: string): string {
  return join(process.cwd(), "..", "shared", "reference", name);
}

/** Parsed reference JSON, or undefined (with a console note) when ../shared is absent. */
export function loadReference<T>(name: string): T | undefined {
  const p = referencePath(name);
  if (!existsSync(p)) {
    console.warn(`      (skipping: reference file ${p} not found)`);
    return undefined;
  }
  return JSON.parse(readFileSync(p, "utf8")) as T;
}
