import type { EnvSpec } from "../registry";

/** IoTIntrusion-v0, IoTContainment-v0 (filled by the IoT-defence envs). */
export const iotEnvSpecs: EnvSpec[] = [];
