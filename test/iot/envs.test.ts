import { describeEnvConformance } from "./conformance";

describeEnvConformance("IoTIntrusion-v0", { site: 2, sites: 5, alpha: 0.3 });
describeEnvConformance("IoTIntrusion-v0", { site: 0, sites: 3, alpha: 1, calibration: "unsw-nb15" }, { seed: 3 });
describeEnvConformance("IoTContainment-v0", { site: 1, sites: 5 });
