/**
 * Streaming CSV reading for the IoT dataset loaders, on `csv-parse` (RFC 4180: comma
 * separated, fields optionally in double quotes, `""` inside quotes is a literal quote, quoted
 * fields may contain commas and line breaks). Files of any size stream in constant memory.
 *
 * - `readCsv(path)`: async generator over records (a file stream piped into csv-parse).
 * - `readCsvSync(path)`: the same, synchronously, reading 1 MiB chunks with fs.readSync and
 *   feeding them to the same parser (lets `make(...)` load a dataset without awaiting).
 * Both yield the header as the first record. Options, chosen to keep the behaviour of the
 * hand-written reader they replaced:
 * - a UTF-8 BOM at the start of the file is dropped (`bom`);
 * - LF and CRLF line ends are both accepted, also mixed in one file (`record_delimiter`);
 *   a blank line is a record of one empty field (the loaders skip it);
 * - rows may have fewer or more cells than the header (`relax_column_count`; the loaders
 *   read missing cells as empty);
 * - a quote inside an unquoted field is a literal character (`relax_quotes`).
 * Errors (a file ending inside a quoted field, ...) name the file.
 */
import { createReadStream, openSync, readSync, closeSync } from "node:fs";
import { Parser, type Options } from "csv-parse";

export const CSV_OPTIONS: Options = {
  bom: true,
  record_delimiter: ["\r\n", "\n"],
  relax_column_count: true,
  relax_quotes: true,
};

function fileError(path: string, err: unknown): Error {
  const e = err as Error & { code?: string };
  if (e?.code === "CSV_QUOTE_NOT_CLOSED") return new Error(`${path}: file ends inside a quoted field`);
  if (e?.code && String(e.code).startsWith("CSV_")) return new Error(`${path}: ${e.message}`);
  return e;
}

/** Async stream of CSV records (header included as the first record). */
export async function* readCsv(path: string): AsyncGenerator<string[]> {
  const parser = new Parser(CSV_OPTIONS);
  const input = createReadStream(path);
  input.on("error", (err) => parser.destroy(err));
  input.pipe(parser);
  try {
    for await (const rec of parser) yield rec as string[];
  } catch (err) {
    throw fileError(path, err);
  } finally {
    input.destroy();
  }
}

/**
 * Synchronous stream of CSV records (header included as the first record). The parser is a
 * csv-parse stream driven synchronously: each chunk is written, then every record it completed
 * is read out before the next chunk (a Transform runs `_transform` inside `write` when nothing
 * is pending), so memory stays at one chunk plus one record.
 */
export function* readCsvSync(path: string, chunkSize = 1 << 20): Generator<string[]> {
  const parser = new Parser(CSV_OPTIONS);
  parser.on("error", () => {}); // surfaced through parser.errored below
  const check = () => {
    if (parser.errored) throw fileError(path, parser.errored);
  };
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkSize);
      const n = readSync(fd, buf, 0, chunkSize, null);
      if (n === 0) break;
      parser.write(buf.subarray(0, n));
      check();
      for (let rec = parser.read(); rec !== null; rec = parser.read()) yield rec as string[];
      check();
    }
    parser.end();
    check();
    for (let rec = parser.read(); rec !== null; rec = parser.read()) yield rec as string[];
    check();
  } finally {
    closeSync(fd);
    parser.destroy();
  }
}
