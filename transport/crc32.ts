import { crc32 as zlibCrc32 } from "node:zlib";

/** CRC-32 (IEEE) of `data`: Node's zlib.crc32 (Node ≥ 20.15). */
export function crc32(data: Uint8Array): number {
  return zlibCrc32(data) >>> 0;
}
