/**
 * A small streaming CSV reader (RFC 4180): comma separated, fields optionally in double
 * quotes, `""` inside quotes is a literal quote, quoted fields may contain commas and line
 * breaks. Lines are fed one at a time, so files of any size stream in constant memory.
 *
 * - `CsvRecordParser.push(line)` returns a completed record or null (inside a quoted field).
 * - `readCsv(path)`: async generator over records (node:readline on a file stream).
 * - `readCsvSync(path)`: the same, synchronously, reading 1 MiB chunks with fs.readSync
 *   (lets `make(...)` load a dataset without awaiting).
 * A UTF-8 BOM at the start of the file is dropped; CRLF line ends are accepted.
 */
import { createReadStream, openSync, readSync, closeSync } from "node:fs";
import { createInterface } from "node:readline";
import { StringDecoder } from "node:string_decoder";

export class CsvRecordParser {
  private fields: string[] = [];
  private cur = "";
  private inQuotes = false;
  private first = true;

  /** Feed one physical line (without its line terminator). */
  push(line: string): string[] | null {
    if (this.first) {
      this.first = false;
      if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    }
    if (this.inQuotes) this.cur += "\n";
    let i = 0;
    const n = line.length;
    while (i < n) {
      const ch = line[i]!;
      if (this.inQuotes) {
        if (ch === '"') {
          if (line[i + 1] === '"') { this.cur += '"'; i += 2; continue; }
          this.inQuotes = false; i++; continue;
        }
        // copy a run of ordinary characters at once
        let j = line.indexOf('"', i);
        if (j < 0) j = n;
        this.cur += line.slice(i, j);
        i = j;
        continue;
      }
      if (ch === ",") { this.fields.push(this.cur); this.cur = ""; i++; continue; }
      if (ch === '"' && this.cur.length === 0) { this.inQuotes = true; i++; continue; }
      // unquoted run up to the next comma (a quote not at the start of a field is literal)
      let j = line.indexOf(",", i);
      if (j < 0) j = n;
      this.cur += line.slice(i, j);
      i = j;
    }
    if (this.inQuotes) return null;
    this.fields.push(this.cur);
    const out = this.fields;
    this.fields = [];
    this.cur = "";
    return out;
  }

  /** True when the input ended inside a quoted field. */
  get pending(): boolean {
    return this.inQuotes;
  }
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** Async stream of CSV records (header included as the first record). */
export async function* readCsv(path: string): AsyncGenerator<string[]> {
  const rl = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  const p = new CsvRecordParser();
  for await (const line of rl) {
    const rec = p.push(line);
    if (rec) yield rec;
  }
  if (p.pending) throw new Error(`${path}: file ends inside a quoted field`);
}

/** Synchronous stream of physical lines, reading 1 MiB at a time. */
export function* readLinesSync(path: string, chunkSize = 1 << 20): Generator<string> {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    const dec = new StringDecoder("utf8");
    let rest = "";
    for (;;) {
      const n = readSync(fd, buf, 0, chunkSize, null);
      if (n === 0) break;
      rest += dec.write(buf.subarray(0, n));
      let start = 0;
      for (let k = rest.indexOf("\n", start); k >= 0; k = rest.indexOf("\n", start)) {
        yield stripCr(rest.slice(start, k));
        start = k + 1;
      }
      rest = rest.slice(start);
    }
    rest += dec.end();
    if (rest.length > 0) yield stripCr(rest);
  } finally {
    closeSync(fd);
  }
}

/** Synchronous stream of CSV records (header included as the first record). */
export function* readCsvSync(path: string): Generator<string[]> {
  const p = new CsvRecordParser();
  for (const line of readLinesSync(path)) {
    const rec = p.push(line);
    if (rec) yield rec;
  }
  if (p.pending) throw new Error(`${path}: file ends inside a quoted field`);
}
