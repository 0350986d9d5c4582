#!/usr/bin/env node
// Runs the TypeScript CLI in this very process (tsx registered as a loader, no child process), so
// signals reach the CLI's handlers directly: PID-1 safe in a container, one Ctrl-C = one drain.
import { register } from "tsx/esm/api";
register();
const { main, report } = await import("../launch/cli.ts");
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => process.exit(report(e)),
);
