/**
 * DCE/RPC exchanges for tests and samples, written from C706, MS-RPCE and MS-DCOM: bind / bind_ack
 * and alter_context / alter_context_resp with NDR or NDR64 transfer syntaxes, ept_map requests and
 * responses in either (any number of towers, a status such as EPT_S_NOT_REGISTERED), responses cut
 * into fragments, auth trailers, and DCOM answers that carry string bindings (DUALSTRINGARRAY). Also
 * SSRP and TFTP payloads. Little-endian data representation throughout, as Windows sends.
 */

export const EPM_UUID = 'e1af8308-5d1f-11c9-91a4-08002b14a0fa';
export const NDR_UUID = '8a885d04-1ceb-11c9-9fe8-08002b104860';
export const NDR64_UUID = '71710533-beba-4937-8319-b5dbef9ccc36';
/** The bind-time feature negotiation pseudo syntax Windows proposes beside NDR and NDR64. */
export const BIND_TIME_FEATURES_UUID = '6cb71c2c-9812-4540-0300-000000000000';
export const ISYSTEMACTIVATOR_UUID = '000001a0-0000-0000-c000-000000000046';
export const IOXIDRESOLVER_UUID = '99fcfec4-5260-101b-bbcb-00aa0021347a';
export const SAMR_UUID = '12345778-1234-abcd-ef00-0123456789ac';
export const NETLOGON_UUID = '12345678-1234-abcd-ef00-01234567cffb';
export const EPT_S_NOT_REGISTERED = 0x16c9a0d6;

function uuidLE(u: string): Buffer {
  const h = u.replace(/-/g, '');
  const b = Buffer.from(h, 'hex');
  // The first three fields are little-endian in NDR.
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

/** Appends fields to a stub, aligning each to its size from the start of the stub, as NDR does. */
class Stub {
  private parts: Buffer[] = [];
  private len = 0;
  align(n: number): this {
    const pad = (n - (this.len % n)) % n;
    if (pad) this.raw(Buffer.alloc(pad));
    return this;
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    this.len += b.length;
    return this;
  }
  u32(v: number): this {
    return this.align(4).raw(u32(v));
  }
  /** A pointer, conformance, offset or count: 4 bytes in NDR, 8 (aligned to 8) in NDR64. */
  wide(v: number, ndr64: boolean): this {
    return ndr64 ? this.align(8).raw(u64(v)) : this.u32(v);
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export const PFC_FIRST = 0x01;
export const PFC_LAST = 0x02;

function header(ptype: number, body: Buffer, callId: number, flags = PFC_FIRST | PFC_LAST): Buffer {
  const h = Buffer.alloc(16);
  h[0] = 5;
  h[1] = 0;
  h[2] = ptype;
  h[3] = flags;
  h.writeUInt32LE(0x00000010, 4); // little-endian integers, ASCII, IEEE floats
  h.writeUInt16LE(16 + body.length, 8);
  h.writeUInt16LE(0, 10);
  h.writeUInt32LE(callId, 12);
  return Buffer.concat([h, body]);
}

/** A presentation context a bind proposes: its id, interface and transfer syntaxes. */
export interface ContextSpec {
  id: number;
  abstract: string;
  transfers: string[];
}

function contextList(contexts: ContextSpec[]): Buffer {
  const elems = contexts.map((c) => Buffer.concat([u16(c.id), Buffer.from([c.transfers.length, 0]), uuidLE(c.abstract), u32(c.abstract === ISYSTEMACTIVATOR_UUID || c.abstract === IOXIDRESOLVER_UUID ? 0 : 3), ...c.transfers.map((t) => Buffer.concat([uuidLE(t), u32(t === NDR64_UUID ? 1 : 2)]))]));
  return Buffer.concat([Buffer.from([contexts.length, 0, 0, 0]), ...elems]);
}

const EPM_NDR32: ContextSpec[] = [{ id: 0, abstract: EPM_UUID, transfers: [NDR_UUID] }];

/** A bind (or, with `alter`, an alter_context) proposing these contexts; by default the endpoint mapper over NDR. */
export function bind(callId = 1, contexts: ContextSpec[] = EPM_NDR32, alter = false): Buffer {
  return header(alter ? 14 : 11, Buffer.concat([u16(5840), u16(5840), u32(0), contextList(contexts)]), callId);
}

/** What the server answers for each proposed context: 0 acceptance (with the syntax it took), 2 rejection, 3 a feature answer. */
export interface ContextResultSpec {
  result: number;
  syntax: string;
}

/** A bind_ack (or alter_context_resp) with one result per proposed context; by default NDR accepted. */
export function bindAck(callId = 1, results: ContextResultSpec[] = [{ result: 0, syntax: NDR_UUID }], alter = false): Buffer {
  const secAddr = alter ? Buffer.alloc(0) : Buffer.from('135\0');
  const body = Buffer.concat([u16(5840), u16(5840), u32(0x1234), u16(secAddr.length), secAddr]);
  const pad = Buffer.alloc((4 - ((16 + body.length) % 4)) % 4);
  const list = Buffer.concat([Buffer.from([results.length, 0, 0, 0]), ...results.map((r) => Buffer.concat([u16(r.result), u16(r.result === 0 ? 0 : r.result === 3 ? 3 : 2), r.result === 0 ? uuidLE(r.syntax) : Buffer.alloc(16), u32(r.result === 0 ? (r.syntax === NDR64_UUID ? 1 : 2) : 0)]))]);
  return header(alter ? 15 : 12, Buffer.concat([body, pad, list]), callId);
}

/** The bind Windows Server 2016/2019 clients send: NDR on 0, NDR64 on 1, bind-time features on 2; and its ack taking NDR64. */
export function bindNdr64(callId = 1, abstract = EPM_UUID): Buffer {
  return bind(callId, [
    { id: 0, abstract, transfers: [NDR_UUID] },
    { id: 1, abstract, transfers: [NDR64_UUID] },
    { id: 2, abstract, transfers: [BIND_TIME_FEATURES_UUID] },
  ]);
}
export function bindAckNdr64(callId = 1): Buffer {
  return bindAck(callId, [
    { result: 2, syntax: '' },
    { result: 0, syntax: NDR64_UUID },
    { result: 3, syntax: '' },
  ]);
}

/** A request PDU carrying a stub on a context for an opnum. */
export function requestPdu(callId: number, contextId: number, opnum: number, stub: Buffer, flags = PFC_FIRST | PFC_LAST): Buffer {
  return header(0, Buffer.concat([u32(stub.length), u16(contextId), u16(opnum), stub]), callId, flags);
}

/** A response PDU carrying a stub on a context. */
export function responsePdu(callId: number, contextId: number, stub: Buffer, flags = PFC_FIRST | PFC_LAST): Buffer {
  return header(2, Buffer.concat([u32(stub.length), u16(contextId), Buffer.from([0, 0]), stub]), callId, flags);
}

/** A fault PDU with a status. */
export function faultPdu(callId: number, contextId: number, status: number): Buffer {
  return header(3, Buffer.concat([u32(0), u16(contextId), Buffer.from([0, 0]), u32(status), u32(0)]), callId);
}

/** A response stub cut into fragments of at most `maxStub` bytes each (first and last flags set as C706 says). */
export function fragmentedResponse(callId: number, contextId: number, stub: Buffer, maxStub: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < stub.length; at += maxStub) {
    const flags = (at === 0 ? PFC_FIRST : 0) | (at + maxStub >= stub.length ? PFC_LAST : 0);
    out.push(responsePdu(callId, contextId, stub.subarray(at, at + maxStub), flags));
  }
  return out;
}

/**
 * The PDU with an auth trailer: the stub padded to 16 bytes, the 8-byte sec_trailer (NTLMSSP, the
 * given level, the pad length) and an auth value of `authLength` bytes; frag and auth lengths updated.
 */
export function withAuth(pdu: Buffer, authLength = 16, level = 5): Buffer {
  const pad = (16 - (pdu.length % 16)) % 16;
  const trailer = Buffer.from([10, level, pad, 0, 0, 0, 0, 0]);
  const out = Buffer.concat([pdu, Buffer.alloc(pad, 0xaa), trailer, Buffer.alloc(authLength, 0x5c)]);
  out.writeUInt16LE(out.length, 8);
  out.writeUInt16LE(authLength, 10);
  return out;
}

/** A tower for ncacn_ip_tcp (udp: ncadg_ip_udp, http: ncacn_http) at ip:port for an interface. */
export function tower(ifUuid: string, transport: 'tcp' | 'udp' | 'http', port: number, ip: string, ndr64 = false): Buffer {
  const floor = (lhs: Buffer, rhs: Buffer) => Buffer.concat([u16(lhs.length), lhs, u16(rhs.length), rhs]);
  const portBe = Buffer.alloc(2);
  portBe.writeUInt16BE(port);
  return Buffer.concat([
    u16(5),
    floor(Buffer.concat([Buffer.from([0x0d]), uuidLE(ifUuid), u16(1)]), u16(0)),
    floor(Buffer.concat([Buffer.from([0x0d]), uuidLE(ndr64 ? NDR64_UUID : NDR_UUID), u16(ndr64 ? 1 : 2)]), u16(0)),
    floor(Buffer.from([transport === 'udp' ? 0x0a : 0x0b]), u16(0)),
    floor(Buffer.from([transport === 'tcp' ? 0x07 : transport === 'udp' ? 0x08 : 0x1f]), portBe),
    floor(Buffer.from([0x09]), Buffer.from(ip.split('.').map(Number))),
  ]);
}

/** A twr_t: conformance, tower_length, the octets. */
function putTower(s: Stub, t: Buffer, ndr64: boolean): void {
  s.wide(t.length, ndr64).u32(t.length).raw(t);
}

/** An ept_map request stub (object UUID, map tower, entry handle, max_towers) in NDR or NDR64. */
export function eptMapRequestStub(ifUuid: string, ndr64 = false): Buffer {
  const s = new Stub().wide(1, ndr64).raw(Buffer.alloc(16)).wide(2, ndr64);
  putTower(s, tower(ifUuid, 'tcp', 135, '0.0.0.0'), ndr64);
  return s.align(4).raw(Buffer.alloc(20)).u32(4).bytes();
}

export interface MapOptions {
  ndr64?: boolean;
  contextId?: number;
  /** The status the reply ends with (0 unless given). */
  status?: number;
}

/** An ept_map request (opnum 3) asking for an interface over TCP. */
export function eptMapRequest(callId: number, ifUuid = SAMR_UUID, opts: MapOptions = {}): Buffer {
  return requestPdu(callId, opts.contextId ?? 0, 3, eptMapRequestStub(ifUuid, opts.ndr64 ?? false));
}

/** The ept_map response stub: entry handle, num_towers, the array of tower pointers, the towers, status. */
export function eptMapResponseStub(endpoints: Array<{ transport?: 'tcp' | 'udp' | 'http'; port: number; ip: string }>, ifUuid = SAMR_UUID, opts: MapOptions = {}): Buffer {
  const ndr64 = opts.ndr64 ?? false;
  const n = endpoints.length;
  const s = new Stub().raw(Buffer.alloc(20)).u32(n).wide(n, ndr64).wide(0, ndr64).wide(n, ndr64);
  endpoints.forEach((_, i) => s.wide(3 + i, ndr64));
  for (const e of endpoints) {
    s.align(ndr64 ? 8 : 4);
    putTower(s, tower(ifUuid, e.transport ?? 'tcp', e.port, e.ip, ndr64), ndr64);
  }
  return s.u32(opts.status ?? 0).bytes();
}

/** The ept_map response: one tower per granted endpoint (none, with a status, for a refusal). */
export function eptMapResponse(callId: number, endpoints: Array<{ transport?: 'tcp' | 'udp' | 'http'; port: number; ip: string }>, ifUuid = SAMR_UUID, opts: MapOptions = {}): Buffer {
  return responsePdu(callId, opts.contextId ?? 0, eptMapResponseStub(endpoints, ifUuid, opts));
}

/**
 * A DUALSTRINGARRAY as NDR marshals it behind a pointer: conformance, wNumEntries, wSecurityOffset,
 * then the string bindings (tower id, UTF-16 text, 0; an extra 0 ends them) and one security
 * binding (NTLM, default authz, empty principal; an extra 0 ends them). Bindings: `[towerId, text]`.
 */
export function dualStringArray(bindings: Array<[number, string]>): Buffer {
  const units: number[] = [];
  for (const [towerId, text] of bindings) units.push(towerId, ...[...text].map((c) => c.charCodeAt(0)), 0);
  units.push(0);
  const sec = units.length;
  units.push(0x0a, 0xffff, 0, 0);
  return Buffer.concat([u32(units.length), u16(units.length), u16(sec), ...units.map(u16)]);
}

const NCACN_IP_TCP = 0x07;

/**
 * An ISystemActivator RemoteCreateInstance (or RemoteGetClassObject) answer stub: ORPCTHAT, the
 * activation properties as an MInterfacePointer whose blob carries the OXID bindings, the HRESULT.
 * The blob is a stand-in for the custom-marshaled properties: an OBJREF signature, filler, and the
 * DUALSTRINGARRAY marshaled as the ScmReplyInfo's pdsaOxidBindings is. With no bindings the
 * properties pointer is null, as in an activation that failed.
 */
export function activationAnswerStub(bindings: string[], hresult = 0): Buffer {
  const s = new Stub().u32(0).u32(0); // ORPCTHAT: flags, no extensions
  if (bindings.length === 0) return s.u32(0).u32(hresult).bytes();
  const blob = Buffer.concat([Buffer.from('MEOW'), u32(4), Buffer.alloc(40, 0xcc), dualStringArray(bindings.map((b) => [NCACN_IP_TCP, b]))]);
  s.u32(0x00020000).u32(blob.length).u32(blob.length).raw(blob);
  return s.u32(hresult).bytes();
}

/** An IOXIDResolver ResolveOxid2 answer stub: the OXID bindings, IPID of IRemUnknown, authn hint, COM version, status. */
export function resolveOxid2AnswerStub(bindings: string[], status = 0): Buffer {
  const s = new Stub();
  if (bindings.length === 0) s.u32(0);
  else s.u32(0x00020000).raw(dualStringArray(bindings.map((b) => [NCACN_IP_TCP, b])));
  return s.align(4).raw(Buffer.alloc(16, 0x11)).u32(2).raw(Buffer.concat([u16(5), u16(7)])).u32(status).bytes();
}

/** A SQL Server Browser (SSRP) reply naming instances and their TCP ports. */
export function ssrpReply(instances: Array<{ server: string; name: string; port: number }>): Buffer {
  const text = instances.map((i) => `ServerName;${i.server};InstanceName;${i.name};IsClustered;No;Version;10.50.1600.1;tcp;${i.port};;`).join('');
  const body = Buffer.from(text, 'latin1');
  return Buffer.concat([Buffer.from([0x05]), u16(body.length), body]);
}

/** A TFTP read request. */
export function tftpReadRequest(file: string): Buffer {
  return Buffer.concat([Buffer.from([0, 1]), Buffer.from(file + '\0octet\0', 'latin1')]);
}
