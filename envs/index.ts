import { EnvRegistry, type EnvOptions } from "./registry";
import { gymEnvSpecs } from "./gym/register";
import { iotEnvSpecs } from "./iot/register";
import type { Env } from "./types";

export * from "./types";
export { EnvRegistry, TimeLimit, type EnvSpec, type EnvOptions } from "./registry";

/** The registry with every env fedrl ships. */
export const defaultRegistry = new EnvRegistry();
for (const spec of [...gymEnvSpecs, ...iotEnvSpecs]) defaultRegistry.register(spec);

/** Gymnasium-style `make("LunarLander-v3")`. */
export function make(id: string, options?: EnvOptions): Env {
  return defaultRegistry.make(id, options);
}
