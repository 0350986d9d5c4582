import type { EnvSpec } from "../registry";
import { IoTIntrusionEnv, type IntrusionOptions } from "./intrusion";
import { IoTContainmentEnv, type ContainmentOptions } from "./containment";

/**
 * IoTIntrusion-v0 (200 flows per episode), IoTContainment-v0 (100 steps per episode).
 * Options: `{ site, sites, alpha, splitSeed, source, seed, ... }`, see intrusion.ts / containment.ts.
 */
export const iotEnvSpecs: EnvSpec[] = [
  {
    id: "IoTIntrusion-v0",
    maxEpisodeSteps: 200,
    create: (options) => new IoTIntrusionEnv(options as IntrusionOptions),
  },
  {
    id: "IoTContainment-v0",
    maxEpisodeSteps: 100,
    create: (options) => {
      const { maxEpisodeSteps: _m, ...rest } = options;
      return new IoTContainmentEnv(rest as ContainmentOptions);
    },
  },
];
