/**
 * DCE/RPC connection-oriented PDUs (C706 chapter 12, MS-RPCE 2.2.2) and the few stubs the inspectors
 * decode: the endpoint mapper's ept_map (C706 appendix L, opnum 3) in NDR or NDR64 (MS-RPCE 2.2.5),
 * and DCOM string bindings (MS-DCOM 2.2.19 DUALSTRINGARRAY). Pure functions over bytes: nothing here
 * throws on bad input (every read is bounds-checked first) and nothing keeps state.
 */

import { DCERPC } from './bounds.js';

export const PTYPE_REQUEST = 0;
export const PTYPE_RESPONSE = 2;
export const PTYPE_FAULT = 3;
export const PTYPE_BIND = 11;
export const PTYPE_BIND_ACK = 12;
export const PTYPE_ALTER_CONTEXT = 14;
export const PTYPE_ALTER_CONTEXT_RESP = 15;

export const PFC_FIRST_FRAG = 0x01;
export const PFC_LAST_FRAG = 0x02;
const PFC_OBJECT_UUID = 0x80;

/** RPC_C_AUTHN_LEVEL_PKT_PRIVACY: the stub is encrypted and cannot be read. */
export const AUTHN_LEVEL_PKT_PRIVACY = 6;

export const EPM_UUID = 'e1af8308-5d1f-11c9-91a4-08002b14a0fa';
export const NDR32_UUID = '8a885d04-1ceb-11c9-9fe8-08002b104860';
export const NDR64_UUID = '71710533-beba-4937-8319-b5dbef9ccc36';
/** ISystemActivator (MS-DCOM calls it IRemoteSCMActivator): RemoteGetClassObject 3, RemoteCreateInstance 4. */
export const ISYSTEMACTIVATOR_UUID = '000001a0-0000-0000-c000-000000000046';
/** IOXIDResolver: ResolveOxid 0, ResolveOxid2 4. */
export const IOXIDRESOLVER_UUID = '99fcfec4-5260-101b-bbcb-00aa0021347a';

export const EPT_S_NOT_REGISTERED = 0x16c9a0d6;

/** Interfaces people look for in a report, by the name tools show for them. */
const INTERFACE_NAMES: Record<string, string> = {
  '12345678-1234-abcd-ef00-01234567cffb': 'RPC_NETLOGON',
  'e3514235-4b06-11d1-ab04-00c04fc2dcd2': 'DRSUAPI',
  '12345778-1234-abcd-ef00-0123456789ab': 'LSARPC',
  '12345778-1234-abcd-ef00-0123456789ac': 'SAMR',
  '367abb81-9844-35f1-ad32-98f038001003': 'SVCCTL',
  '86d35949-83c9-4044-b424-db363231fd0c': 'TaskSchedulerService',
  '1ff70682-0a51-30e8-076d-740be8cee98b': 'ATSVC',
  '338cd001-2244-31f1-aaaa-900038001003': 'WINREG',
  '4b324fc8-1670-01d3-1278-5a47bf6ee188': 'SRVSVC',
  '6bffd098-a112-3610-9833-46c3f87e345a': 'WKSSVC',
  '82273fdc-e32a-18c3-3f78-827929dc23ea': 'EVENTLOG',
  'f6beaff7-1e19-4fbb-9f8f-b89e2018337c': 'EVEN6',
  '76f03f96-cdfd-44fc-a22c-64950a001209': 'IRemoteWinspool',
  '12345678-1234-abcd-ef00-0123456789ab': 'SPOOLSS',
  'e1af8308-5d1f-11c9-91a4-08002b14a0fa': 'EPMv4',
  '000001a0-0000-0000-c000-000000000046': 'ISystemActivator',
  '99fcfec4-5260-101b-bbcb-00aa0021347a': 'IOXIDResolver',
  '4d9f4ab8-7d1c-11cf-861e-0020af6e7c57': 'IActivation',
  'd95afe70-a6d5-4259-822e-2c84da1ddb0d': 'InitShutdown',
  '894de0c0-0d55-11d3-a322-00c04fa321a1': 'InitShutdown',
  '6b5bdd1e-528c-422c-af8c-a4079be4fe48': 'RemoteFW',
  '50abc2a4-574d-40b3-9d66-ee4fd5fba076': 'DNSSERVER',
  'a4f1db00-ca47-1067-b31f-00dd010662da': 'EXCHANGE_MAPI',
};

/** The name of a well-known interface, or its UUID. */
export function interfaceName(uuid: string): string {
  return INTERFACE_NAMES[uuid] ?? uuid;
}

export interface PduHeader {
  ptype: number;
  flags: number;
  littleEndian: boolean;
  fragLength: number;
  authLength: number;
  callId: number;
}

/** The 16-byte common header, or null when the bytes cannot be DCE/RPC version 5.0 or 5.1. */
export function pduHeader(buf: Buffer, off: number, end: number): PduHeader | null {
  if (end - off < 16 || buf[off] !== 5 || buf[off + 1]! > 1 || buf[off + 2]! > 20) return null;
  const le = (buf[off + 4]! & 0xf0) === 0x10;
  const fragLength = le ? buf[off + 8]! | (buf[off + 9]! << 8) : (buf[off + 8]! << 8) | buf[off + 9]!;
  if (fragLength < 16) return null;
  return {
    ptype: buf[off + 2]!,
    flags: buf[off + 3]!,
    littleEndian: le,
    fragLength,
    authLength: le ? buf[off + 10]! | (buf[off + 11]! << 8) : (buf[off + 10]! << 8) | buf[off + 11]!,
    callId: le ? buf.readUInt32LE(off + 12) : buf.readUInt32BE(off + 12),
  };
}

/** Text of a UUID stored with its first three fields in the given byte order (NDR), or null out of bounds. */
export function uuidAt(b: Buffer, o: number, le: boolean, end = b.length): string | null {
  if (o < 0 || o + 16 > end) return null;
  const h = (x: number, n: number) => x.toString(16).padStart(n, '0');
  const d1 = le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  const d2 = le ? b.readUInt16LE(o + 4) : b.readUInt16BE(o + 4);
  const d3 = le ? b.readUInt16LE(o + 6) : b.readUInt16BE(o + 6);
  let tail = '';
  for (let i = 8; i < 16; i++) tail += h(b[o + i]!, 2);
  return `${h(d1, 8)}-${h(d2, 4)}-${h(d3, 4)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

/** One presentation context a bind or alter_context proposes. */
export interface ProposedContext {
  contextId: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

/** The presentation context list of a bind or alter_context PDU (`pdu` starts at the header), or null. */
export function proposedContexts(pdu: Buffer, h: PduHeader): ProposedContext[] | null {
  const le = h.littleEndian;
  const end = Math.min(pdu.length, h.fragLength);
  if (end < 28) return null;
  const n = pdu[24]!;
  const out: ProposedContext[] = [];
  let p = 28;
  for (let i = 0; i < n; i++) {
    if (p + 24 > end) return null;
    const contextId = le ? pdu.readUInt16LE(p) : pdu.readUInt16BE(p);
    const nTransfer = pdu[p + 2]!;
    const abstractSyntax = uuidAt(pdu, p + 4, le, end)!;
    p += 24;
    const transferSyntaxes: string[] = [];
    for (let k = 0; k < nTransfer; k++, p += 20) {
      const t = uuidAt(pdu, p, le, end);
      if (t === null) return null;
      transferSyntaxes.push(t);
    }
    out.push({ contextId, abstractSyntax, transferSyntaxes });
  }
  return out;
}

/** One result of a bind_ack or alter_context_resp: 0 is acceptance, with the transfer syntax chosen. */
export interface ContextResult {
  result: number;
  transferSyntax: string;
}

/** The result list of a bind_ack or alter_context_resp, in the order of the proposed contexts, or null. */
export function contextResults(pdu: Buffer, h: PduHeader): ContextResult[] | null {
  const le = h.littleEndian;
  const end = Math.min(pdu.length, h.fragLength);
  if (end < 26) return null;
  const secAddrLen = le ? pdu.readUInt16LE(24) : pdu.readUInt16BE(24);
  // The result list is 4-byte aligned from the start of the PDU, after the secondary address.
  let p = (26 + secAddrLen + 3) & ~3;
  if (p + 4 > end) return null;
  const n = pdu[p]!;
  p += 4;
  const out: ContextResult[] = [];
  for (let i = 0; i < n; i++, p += 24) {
    if (p + 24 > end) return null;
    out.push({ result: le ? pdu.readUInt16LE(p) : pdu.readUInt16BE(p), transferSyntax: uuidAt(pdu, p + 4, le, end)! });
  }
  return out;
}

/** Where a request's or response's stub lies in the PDU, without the auth trailer and its padding. */
export interface StubExtent {
  contextId: number;
  /** Requests only; -1 for a response. */
  opnum: number;
  start: number;
  end: number;
  authLevel: number;
}

export function stubExtent(pdu: Buffer, h: PduHeader): StubExtent | null {
  const le = h.littleEndian;
  const len = Math.min(pdu.length, h.fragLength);
  if (len < 24) return null;
  const contextId = le ? pdu.readUInt16LE(20) : pdu.readUInt16BE(20);
  const opnum = h.ptype === PTYPE_REQUEST ? (le ? pdu.readUInt16LE(22) : pdu.readUInt16BE(22)) : -1;
  const start = 24 + (h.ptype === PTYPE_REQUEST && h.flags & PFC_OBJECT_UUID ? 16 : 0);
  let end = len;
  let authLevel = 0;
  if (h.authLength > 0) {
    // sec_trailer (8 bytes: type, level, pad length, reserved, context id) then the auth value.
    const trailer = len - h.authLength - 8;
    if (trailer < start) return null;
    authLevel = pdu[trailer + 1]!;
    end = trailer - pdu[trailer + 2]!;
  }
  if (end < start) return null;
  return { contextId, opnum, start, end, authLevel };
}

/**
 * NDR (32-bit) and NDR64 reads over one stub: NDR64 widens pointers, conformance, offsets and counts to
 * 8 bytes and aligns them to 8 (MS-RPCE 2.2.5.3). Alignment is from the start of the stub. A read past
 * the end sets `bad`; the caller checks it once.
 */
class NdrReader {
  p = 0;
  bad = false;
  constructor(
    readonly b: Buffer,
    readonly end: number,
    readonly le: boolean,
    readonly ndr64: boolean,
  ) {}

  align(n: number): void {
    this.p = (this.p + n - 1) & ~(n - 1);
  }
  skip(n: number): void {
    this.p += n;
    if (this.p > this.end) this.bad = true;
  }
  u32(): number {
    this.align(4);
    if (this.p + 4 > this.end) {
      this.bad = true;
      return 0;
    }
    const v = this.le ? this.b.readUInt32LE(this.p) : this.b.readUInt32BE(this.p);
    this.p += 4;
    return v;
  }
  /** A pointer's referent id, a conformance, an offset or a count: 4 bytes in NDR, 8 in NDR64. */
  wide(): number {
    if (!this.ndr64) return this.u32();
    this.align(8);
    if (this.p + 8 > this.end) {
      this.bad = true;
      return 0;
    }
    const lo = this.le ? this.b.readUInt32LE(this.p) : this.b.readUInt32BE(this.p + 4);
    const hi = this.le ? this.b.readUInt32LE(this.p + 4) : this.b.readUInt32BE(this.p);
    this.p += 8;
    // Counts this large are not a stub the endpoint mapper sends: make them fail the bound checks.
    return hi === 0 ? lo : Number.MAX_SAFE_INTEGER;
  }
}

/** One endpoint a tower describes. */
export interface TowerEndpoint {
  /** The protocol sequence, as RPC names it: ncacn_ip_tcp, ncadg_ip_udp, ncacn_http (RPC over HTTP, TCP 593 and others). */
  protseq: 'ncacn_ip_tcp' | 'ncadg_ip_udp' | 'ncacn_http';
  transport: 'tcp' | 'udp';
  port: number;
  /** Dotted IPv4 address of the tower's address floor, or null when the tower has none. */
  ip: string | null;
  /** The interface of the tower's first floor. */
  interface: string | null;
}

/** What an ept_map response says: its towers (null pointers left out) and its status. */
export interface EptMapReply {
  numTowers: number;
  towers: Array<TowerEndpoint | null>;
  status: number;
}


/** Reads a twr_t (conformance, tower_length, octets) at the reader's position, or null. */
function readTower(r: NdrReader): Buffer | null {
  const conformance = r.wide();
  const length = r.u32();
  if (r.bad || length > DCERPC.maxTowerBytes || length > conformance || r.p + length > r.end) return null;
  const t = r.b.subarray(r.p, r.p + length);
  r.p += length;
  return t;
}

/**
 * An ept_map response stub: entry_handle (20 bytes), num_towers, a conformant varying array of tower
 * pointers (max, offset, actual count), the towers they point to, then the status. Null when the stub
 * is not a well-formed response in that transfer syntax.
 */
export function eptMapReply(stub: Buffer, start: number, end: number, le: boolean, ndr64: boolean): EptMapReply | null {
  const r = new NdrReader(stub.subarray(start, end), end - start, le, ndr64);
  r.skip(20);
  const numTowers = r.u32();
  const max = r.wide();
  const offset = r.wide();
  const actual = r.wide();
  if (r.bad || actual > max || offset > max || actual > DCERPC.maxTowerPointers) return null;
  const present: boolean[] = [];
  for (let i = 0; i < actual; i++) present.push(r.wide() !== 0);
  if (r.bad) return null;
  const towers: Array<TowerEndpoint | null> = [];
  for (const has of present) {
    if (!has) continue;
    const t = readTower(r);
    if (t === null) return null;
    towers.push(towerEndpoint(t));
  }
  const status = r.u32();
  // The status ends the stub (the auth padding is already cut off): a stub that goes on is not an
  // ept_map answer in this transfer syntax, which tells NDR from NDR64 where the bind was not seen.
  if (r.bad || end - start - r.p >= 8) return null;
  return { numTowers, towers, status };
}

/** The interface an ept_map request's map tower asks for (object uuid pointer, map_tower pointer, tower), or null. */
export function eptMapRequestInterface(stub: Buffer, start: number, end: number, le: boolean, ndr64: boolean): string | null {
  const r = new NdrReader(stub.subarray(start, end), end - start, le, ndr64);
  if (r.wide() !== 0) r.skip(16); // the object UUID
  if (r.wide() === 0 || r.bad) return null;
  const t = readTower(r);
  return t === null ? null : towerInterface(t);
}

/** The UUID of a tower's first floor (protocol 0x0d), or null. */
function towerInterface(t: Buffer): string | null {
  if (t.length < 2 + 2 + 19 || t.readUInt16LE(0) < 1) return null;
  const lhsLen = t.readUInt16LE(2);
  if (lhsLen < 17 || t[4] !== 0x0d) return null;
  return uuidAt(t, 5, true, 4 + lhsLen);
}

/** Reads a tower's floors (little-endian counts and lengths, big-endian port and address). */
export function towerEndpoint(t: Buffer): TowerEndpoint | null {
  if (t.length < 2) return null;
  const floors = t.readUInt16LE(0);
  let p = 2;
  let protseq: TowerEndpoint['protseq'] | null = null;
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
    if ((proto === 0x07 || proto === 0x08 || proto === 0x1f) && rhsLen >= 2) {
      protseq = proto === 0x07 ? 'ncacn_ip_tcp' : proto === 0x08 ? 'ncadg_ip_udp' : 'ncacn_http';
      port = t.readUInt16BE(rhs);
    } else if (proto === 0x09 && rhsLen >= 4) {
      ip = `${t[rhs]}.${t[rhs + 1]}.${t[rhs + 2]}.${t[rhs + 3]}`;
    }
    p = rhs + rhsLen;
  }
  return protseq && port > 0 ? { protseq, transport: protseq === 'ncadg_ip_udp' ? 'udp' : 'tcp', port, ip, interface: towerInterface(t) } : null;
}

/** One string binding of a DUALSTRINGARRAY that names an endpoint: `host[port]`. */
export interface StringBinding {
  transport: 'tcp' | 'udp';
  host: string;
  port: number;
}

/** The string bindings a search found, and whether it stopped at its work bound before the stub's end. */
export interface StringBindingScan {
  bindings: StringBinding[];
  exhausted: boolean;
}

const TOWER_NCACN_IP_TCP = 0x07;
const TOWER_NCADG_IP_UDP = 0x08;

/**
 * The string bindings with a port of every DUALSTRINGARRAY in a DCOM answer's stub. A DUALSTRINGARRAY
 * is wNumEntries, wSecurityOffset, then wNumEntries 16-bit units: string bindings (tower id, UTF-16
 * address, 0) ended by a 0 at wSecurityOffset - 1, then security bindings ended by a 0 at the end.
 * Activation answers carry them deep inside custom-marshaled property blobs (the ScmReplyInfo's OXID
 * bindings, the OBJREFs' resolver addresses), so instead of walking every blob we look for arrays whose
 * whole layout checks out: both terminators in place, each string binding a known tower id followed by
 * printable characters. A random match of all of that is not a concern in practice. Every offset is
 * tried, and a crafted stub could make each try walk a long array: the units examined are bounded by
 * DCERPC.scanWorkPerUnit per unit of the stub (`exhausted` when the search stopped there).
 */
export function stringBindings(stub: Buffer, start: number, end: number, le: boolean): StringBindingScan {
  const out: StringBinding[] = [];
  const u16 = le ? (o: number) => stub[o]! | (stub[o + 1]! << 8) : (o: number) => (stub[o]! << 8) | stub[o + 1]!;
  let work = Math.max(0, (end - start) >> 1) * DCERPC.scanWorkPerUnit;
  for (let p = start; p + 8 <= end; p += 2) {
    if (--work < 0) return { bindings: out, exhausted: true };
    const n = u16(p);
    const sec = u16(p + 2);
    if (sec < 3 || n <= sec || p + 4 + 2 * n > end) continue;
    const arr = p + 4;
    if (u16(arr + 2 * (sec - 1)) !== 0 || u16(arr + 2 * (n - 1)) !== 0) continue;
    const found: StringBinding[] = [];
    let i = 0;
    let ok = true;
    while (i < sec - 1) {
      const tower = u16(arr + 2 * i);
      if (tower === 0 || tower > 0x1f) {
        ok = false;
        break;
      }
      i++;
      const from = i;
      while (i < sec - 1) {
        const ch = u16(arr + 2 * i);
        if (ch === 0) break;
        if (ch < 0x20 || ch > 0x7e) {
          ok = false;
          break;
        }
        i++;
      }
      work -= i - from + 1;
      if (!ok || i === from || i >= sec - 1) {
        ok = false;
        break;
      }
      i++; // the string's 0
      if (tower === TOWER_NCACN_IP_TCP || tower === TOWER_NCADG_IP_UDP) {
        let text = '';
        for (let k = from; k < i - 1; k++) text += String.fromCharCode(u16(arr + 2 * k));
        const m = /^(.+)\[(\d{1,5})(?:,[^\]]*)?\]$/.exec(text);
        const port = m ? Number(m[2]) : 0;
        if (m && port > 0 && port < 65536) found.push({ transport: tower === TOWER_NCACN_IP_TCP ? 'tcp' : 'udp', host: m[1]!, port });
      }
    }
    if (!ok) continue;
    out.push(...found);
    p = arr + 2 * n - 2; // past this array (the loop adds 2)
  }
  return { bindings: out, exhausted: false };
}

/** Whether a string binding's host is an IP address literal (IPv4 dotted quad or IPv6) rather than a name. */
export function isAddressLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || (host.includes(':') && /^[0-9a-fA-F:.]+$/.test(host));
}
