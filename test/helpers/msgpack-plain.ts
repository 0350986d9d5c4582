/**
 * A small MessagePack decoder written from the spec (https://github.com/msgpack/msgpack/blob/master/spec.md),
 * independent of msgpackr, to prove the wire body is plain MessagePack: it knows nil, booleans,
 * ints, floats, str, bin, array and map, and throws on any extension type.
 */
export function decodePlain(buf: Uint8Array): unknown {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  const u8 = () => buf[o++]!;
  const take = (n: number) => { const s = buf.subarray(o, o + n); o += n; if (s.length !== n) throw new Error("truncated"); return s; };
  const utf8 = (n: number) => new TextDecoder().decode(take(n));
  const map = (n: number) => { const m: Record<string, unknown> = {}; for (let i = 0; i < n; i++) { const k = read(); if (typeof k !== "string") throw new Error("non-string map key"); m[k] = read(); } return m; };
  const arr = (n: number) => Array.from({ length: n }, () => read());
  function read(): unknown {
    const t = u8();
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 0x100;
    if ((t & 0xf0) === 0x80) return map(t & 0x0f);
    if ((t & 0xf0) === 0x90) return arr(t & 0x0f);
    if ((t & 0xe0) === 0xa0) return utf8(t & 0x1f);
    let v: number;
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return take(u8()).slice();
      case 0xc5: v = dv.getUint16(o); o += 2; return take(v).slice();
      case 0xc6: v = dv.getUint32(o); o += 4; return take(v).slice();
      case 0xca: v = dv.getFloat32(o); o += 4; return v;
      case 0xcb: v = dv.getFloat64(o); o += 8; return v;
      case 0xcc: return u8();
      case 0xcd: v = dv.getUint16(o); o += 2; return v;
      case 0xce: v = dv.getUint32(o); o += 4; return v;
      case 0xcf: v = Number(dv.getBigUint64(o)); o += 8; return v;
      case 0xd0: v = dv.getInt8(o); o += 1; return v;
      case 0xd1: v = dv.getInt16(o); o += 2; return v;
      case 0xd2: v = dv.getInt32(o); o += 4; return v;
      case 0xd3: v = Number(dv.getBigInt64(o)); o += 8; return v;
      case 0xd9: return utf8(u8());
      case 0xda: v = dv.getUint16(o); o += 2; return utf8(v);
      case 0xdb: v = dv.getUint32(o); o += 4; return utf8(v);
      case 0xdc: v = dv.getUint16(o); o += 2; return arr(v);
      case 0xdd: v = dv.getUint32(o); o += 4; return arr(v);
      case 0xde: v = dv.getUint16(o); o += 2; return map(v);
      case 0xdf: v = dv.getUint32(o); o += 4; return map(v);
      default: throw new Error(`type 0x${t.toString(16)} is not plain MessagePack (extension or reserved)`);
    }
  }
  const out = read();
  if (o !== buf.length) throw new Error(`${buf.length - o} trailing bytes`);
  return out;
}
