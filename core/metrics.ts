/** Metrics as JSON lines: one file per component under the run directory, or kept in memory. */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

export interface MetricsSink {
  write(event: string, data: Record<string, unknown>): void;
}

export class JsonlMetrics implements MetricsSink {
  constructor(readonly path: string, private readonly component: string) {
    mkdirSync(dirname(path), { recursive: true });
  }
  write(event: string, data: Record<string, unknown>): void {
    appendFileSync(this.path, JSON.stringify({ t: Date.now(), component: this.component, event, ...data }) + "\n");
  }
}

export class MemoryMetrics implements MetricsSink {
  readonly events: { event: string; data: Record<string, unknown> }[] = [];
  write(event: string, data: Record<string, unknown>): void {
    this.events.push({ event, data });
  }
  of(event: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.event === event).map((e) => e.data);
  }
}

/** Fans one write out to several sinks. */
export class TeeMetrics implements MetricsSink {
  constructor(private readonly sinks: MetricsSink[]) {}
  write(event: string, data: Record<string, unknown>): void {
    for (const s of this.sinks) s.write(event, data);
  }
}

export const nullMetrics: MetricsSink = { write() {} };
