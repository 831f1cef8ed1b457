/**
 * DCE/RPC connection-oriented PDUs on the endpoint mapper (TCP 135): ept_map (opnum 3) replies name
 * the port of the interface a client asked for. Requests are read to learn which call ids are ept_map;
 * responses are decoded as NDR (32-bit, little- or big-endian by the data representation).
 */

export const PTYPE_REQUEST = 0;
export const PTYPE_RESPONSE = 2;
const EPT_MAP = 3;

/** One endpoint a tower describes. */
export interface TowerEndpoint {
  transport: 'tcp' | 'udp';
  port: number;
  /** Dotted IPv4 address of the tower, or null when the tower has none. */
  ip: string | null;
}

export interface PduHeader {
  ptype: number;
  flags: number;
  littleEndian: boolean;
  fragLength: number;
  authLength: number;
  callId: number;
}

/** The 16-byte common header, or null when the bytes are not DCE/RPC version 5. */
export function pduHeader(buf: Buffer, off: number, end: number): PduHeader | null {
  if (end - off < 16 || buf[off] !== 5 || buf[off + 1]! > 1) return null;
  const le = (buf[off + 4]! & 0xf0) === 0x10;
  const fragLength = le ? buf.readUInt16LE(off + 8) : buf.readUInt16BE(off + 8);
  if (fragLength < 16) return null;
  return {
    ptype: buf[off + 2]!,
    flags: buf[off + 3]!,
    littleEndian: le,
    fragLength,
    authLength: le ? buf.readUInt16LE(off + 10) : buf.readUInt16BE(off + 10),
    callId: le ? buf.readUInt32LE(off + 12) : buf.readUInt32BE(off + 12),
  };
}

/** The opnum of a request PDU. */
export function requestOpnum(buf: Buffer, off: number, h: PduHeader): number {
  return h.littleEndian ? buf.readUInt16LE(off + 22) : buf.readUInt16BE(off + 22);
}

/** Whether a request is ept_map (opnum 3 of the endpoint mapper interface). */
export function isEptMapRequest(buf: Buffer, off: number, h: PduHeader): boolean {
  return h.ptype === PTYPE_REQUEST && h.fragLength >= 24 && requestOpnum(buf, off, h) === EPT_MAP;
}

/**
 * Decodes the towers of an ept_map response stub: context handle (20 bytes), num_towers, then a
 * conformant varying array of tower pointers, then each tower (conformance, length, octets). Throws
 * nothing: returns null when the stub is not a well-formed ept_map response.
 */
export function eptMapTowers(stub: Buffer, le: boolean): TowerEndpoint[] | null {
  const u32 = (o: number) => (le ? stub.readUInt32LE(o) : stub.readUInt32BE(o));
  let p = 20;
  if (stub.length < p + 16) return null;
  const numTowers = u32(p);
  const max = u32(p + 4);
  const actual = u32(p + 12);
  p += 16;
  if (numTowers > 64 || actual > max || actual > 64 || stub.length < p + 4 * actual) return null;
  const present: boolean[] = [];
  for (let i = 0; i < actual; i++, p += 4) present.push(u32(p) !== 0);
  const out: TowerEndpoint[] = [];
  for (const has of present) {
    if (!has) continue;
    if (stub.length < p + 8) return null;
    const length = u32(p + 4);
    p += 8;
    if (length > 4096 || stub.length < p + length) return null;
    const ep = towerEndpoint(stub.subarray(p, p + length));
    if (ep) out.push(ep);
    p += length;
    p = (p + 3) & ~3;
  }
  return out;
}

/** Reads a tower's floors (little-endian counts and lengths, big-endian port and address). */
export function towerEndpoint(t: Buffer): TowerEndpoint | null {
  if (t.length < 2) return null;
  const floors = t.readUInt16LE(0);
  let p = 2;
  let transport: 'tcp' | 'udp' | null = null;
  let port = -1;
  let ip: string | null = null;
  for (let i = 0; i < floors; i++) {
    if (t.length < p + 2) return null;
    const lhsLen = t.readUInt16LE(p);
    if (lhsLen < 1 || t.length < p + 2 + lhsLen + 2) return null;
    const proto = t[p + 2]!;
    p += 2 + lhsLen;
    const rhsLen = t.readUInt16LE(p);
    if (t.length < p + 2 + rhsLen) return null;
    const rhs = p + 2;
    if ((proto === 0x07 || proto === 0x08) && rhsLen >= 2) {
      transport = proto === 0x07 ? 'tcp' : 'udp';
      port = t.readUInt16BE(rhs);
    } else if (proto === 0x09 && rhsLen >= 4) {
      ip = `${t[rhs]}.${t[rhs + 1]}.${t[rhs + 2]}.${t[rhs + 3]}`;
    }
    p = rhs + rhsLen;
  }
  return transport && port > 0 ? { transport, port, ip } : null;
}
