/**
 * DCE/RPC endpoint-mapper exchanges for tests and samples: bind, bind_ack, ept_map request and an
 * ept_map response whose towers name the ports a server grants (NDR, little-endian).
 */

const EPM_UUID = 'e1af8308-5d1f-11c9-91a4-08002b14a0fa';
const NDR_UUID = '8a885d04-1ceb-11c9-9fe8-08002b104860';

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

function header(ptype: number, body: Buffer, callId: number, flags = 0x03): Buffer {
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

export function bind(callId = 1): Buffer {
  const ctx = Buffer.concat([u16(0), Buffer.from([1, 0]), uuidLE(EPM_UUID), u32(3), uuidLE(NDR_UUID), u32(2)]);
  return header(11, Buffer.concat([u16(5840), u16(5840), u32(0), Buffer.from([1, 0, 0, 0]), ctx]), callId);
}

export function bindAck(callId = 1): Buffer {
  const secAddr = Buffer.from('135\0');
  const body = Buffer.concat([u16(5840), u16(5840), u32(0x1234), u16(secAddr.length), secAddr]);
  const pad = Buffer.alloc((4 - (body.length % 4)) % 4);
  const results = Buffer.concat([Buffer.from([1, 0, 0, 0]), u16(0), u16(0), uuidLE(NDR_UUID), u32(2)]);
  return header(12, Buffer.concat([body, pad, results]), callId);
}

/** A tower for ncacn_ip_tcp (or udp) at ip:port for an interface. */
export function tower(ifUuid: string, transport: 'tcp' | 'udp', port: number, ip: string): Buffer {
  const floor = (lhs: Buffer, rhs: Buffer) => Buffer.concat([u16(lhs.length), lhs, u16(rhs.length), rhs]);
  const portBe = Buffer.alloc(2);
  portBe.writeUInt16BE(port);
  return Buffer.concat([
    u16(5),
    floor(Buffer.concat([Buffer.from([0x0d]), uuidLE(ifUuid), u16(1)]), u16(0)),
    floor(Buffer.concat([Buffer.from([0x0d]), uuidLE(NDR_UUID), u16(2)]), u16(0)),
    floor(Buffer.from([transport === 'tcp' ? 0x0b : 0x0a]), u16(0)),
    floor(Buffer.from([transport === 'tcp' ? 0x07 : 0x08]), portBe),
    floor(Buffer.from([0x09]), Buffer.from(ip.split('.').map(Number))),
  ]);
}

function twr(t: Buffer): Buffer {
  const pad = Buffer.alloc((4 - (t.length % 4)) % 4);
  return Buffer.concat([u32(t.length), u32(t.length), t, pad]);
}

/** An ept_map request (opnum 3) asking for an interface over TCP. */
export function eptMapRequest(callId: number, ifUuid = '12345778-1234-abcd-ef00-0123456789ac'): Buffer {
  const stub = Buffer.concat([u32(1), Buffer.alloc(16), u32(2), twr(tower(ifUuid, 'tcp', 135, '0.0.0.0')), Buffer.alloc(20), u32(4)]);
  return header(0, Buffer.concat([u32(stub.length), u16(0), u16(3), stub]), callId);
}

/** The ept_map response: one tower per granted endpoint. */
export function eptMapResponse(callId: number, endpoints: Array<{ transport?: 'tcp' | 'udp'; port: number; ip: string }>, ifUuid = '12345778-1234-abcd-ef00-0123456789ac'): Buffer {
  const towers = endpoints.map((e) => twr(tower(ifUuid, e.transport ?? 'tcp', e.port, e.ip)));
  const stub = Buffer.concat([
    Buffer.alloc(20),
    u32(endpoints.length),
    u32(endpoints.length),
    u32(0),
    u32(endpoints.length),
    ...endpoints.map((_, i) => u32(3 + i)),
    ...towers,
    u32(0),
  ]);
  return header(2, Buffer.concat([u32(stub.length), u16(0), Buffer.from([0, 0]), stub]), callId);
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
