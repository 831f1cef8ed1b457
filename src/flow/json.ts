/**
 * `flows --format json` and the audit's judged lines straight from a flow table's words into byte
 * chunks: the same text as writing each exported record (report/json-lines.ts), without making the
 * records (a test holds the two equal on every capture of the suite). It reads the words instead of
 * a record for speed, so it is written out field by field; its keys and their order are fields.ts's.
 */
import { formatIPv4, formatIPv6 } from '../core/addr.js';
import { ascii, key, num, str } from '../core/json-bytes.js';
import { formatIso } from '../core/time.js';
import { PROTO_NAMES } from './columns.js';
import { exportOrder } from './export.js';
import { jsonKey } from './fields.js';
import { lineChunks } from './line-chunks.js';
import { hasPorts, Hot, isV4, Key, Meta, Outer, OUTER_UDP, placeFile, placeFrame, protoOf, vlanAsymmetric, type FlowWords } from './layout.js';
import { DIRECTION_EVIDENCE, FLAG_TEXT, tunnelNames, type TcpOutcome } from './record.js';
import { icmpErrorCount, lastIcmpError, udpRejected } from './icmp-errors.js';
import { displayFilter, type FilterFlow } from './filter.js';
import { flowOutcome } from './tcp-state.js';

/**
 * Most bytes a flow's line takes, whatever its flow (IPv6 text is at most 45 bytes, a tunnel list 70,
 * keys and numbers under 800 with the outer fields, the display filter up to 200).
 */
export const LINE_ROOM = 1536;

/** The JSON flow lines of every flow, in export order. */
export function jsonChunks(t: FlowWords, chunkBytes: number): Generator<Buffer> {
  const order = exportOrder(t);
  const iso = new IsoBytes();
  return lineChunks({ lines: order.length, room: () => LINE_ROOM, write: (b, p, i) => jsonLine(t, b, p, order[i]!, iso) }, chunkBytes);
}

/**
 * Flow f's line, field for field as record() and JSON.stringify(publicFlow()) make it; `swap` writes
 * it as the audit's judged record has it when the catalog's port says the other side listens (sides
 * exchanged, direction 'catalog-port', the outcome as recorded).
 */
export function jsonLine(t: FlowWords, b: Buffer, p: number, f: number, iso: IsoBytes, swap = false): number {
  const keys = t.keys;
  const hot = t.hot;
  const meta = t.meta;
  const kb = f * Key.W;
  const hb = f * Hot.W;
  const mb = f * Meta.W;
  const k0 = keys[kb + Key.Meta]!;
  const proto = protoOf(k0);
  const v4 = isV4(k0);
  const ports = hasPorts(k0);
  const recordedA = meta[mb + Meta.ClientIsA] === 1;
  const cA = swap ? !recordedA : recordedA;
  const pC = cA ? hot[hb + Hot.PacketsA]! : hot[hb + Hot.PacketsB]!;
  const pS = cA ? hot[hb + Hot.PacketsB]! : hot[hb + Hot.PacketsA]!;
  const bC = cA ? hot[hb + Hot.BytesA]! : hot[hb + Hot.BytesB]!;
  const bS = cA ? hot[hb + Hot.BytesB]! : hot[hb + Hot.BytesA]!;
  const portA = keys[kb + Key.Ports]! >>> 16;
  const portB = keys[kb + Key.Ports]! & 0xffff;
  p = key(b, p, PROTO_JSON[proto]!);
  p = key(b, p, v4 ? J_V4 : J_V6);
  p = jsonAddress(t.keys, b, p, v4, cA ? kb + Key.A : kb + Key.B);
  p = key(b, p, J_CLIENT_PORT);
  p = ports ? num(b, p, cA ? portA : portB) : key(b, p, J_NULL);
  p = key(b, p, J_SERVER);
  p = jsonAddress(t.keys, b, p, v4, cA ? kb + Key.B : kb + Key.A);
  p = key(b, p, J_SERVER_PORT);
  p = ports ? num(b, p, cA ? portB : portA) : key(b, p, J_NULL);
  p = key(b, p, J_PACKETS);
  p = num(b, p, pC + pS);
  p = key(b, p, J_BYTES);
  p = num(b, p, bC + bS);
  p = key(b, p, J_CLIENT_PACKETS);
  p = num(b, p, pC);
  p = key(b, p, J_CLIENT_BYTES);
  p = num(b, p, bC);
  p = key(b, p, J_SERVER_PACKETS);
  p = num(b, p, pS);
  p = key(b, p, J_SERVER_BYTES);
  p = num(b, p, bS);
  if (meta[mb + Meta.HasTime] === 1) {
    const digits = meta[mb + Meta.Digits]!;
    p = key(b, p, J_START);
    p = iso.write(b, p, hot[hb + Hot.FirstSec]!, hot[hb + Hot.FirstNs]!, digits);
    p = key(b, p, J_END);
    p = iso.write(b, p, hot[hb + Hot.LastSec]!, hot[hb + Hot.LastNs]!, digits);
    p = key(b, p, J_DURATION);
    p = num(b, p, Number((hot[hb + Hot.LastSec]! - hot[hb + Hot.FirstSec]! + (hot[hb + Hot.LastNs]! - hot[hb + Hot.FirstNs]!) / 1e9).toFixed(9)));
  } else p = key(b, p, J_NO_TIME);
  p = key(b, p, J_OUTCOME);
  p = key(b, p, proto === 6 ? OUTCOME_JSON[flowOutcome(t, f, recordedA)] : proto === 17 && udpRejected(t, f) ? OUTCOME_JSON.rejected : J_NULL);
  p = key(b, p, swap ? J_DIRECTION_CATALOG : DIRECTION_JSON[meta[mb + Meta.Evidence]!]!);
  p = key(b, p, J_FIRST_FILE);
  p = num(b, p, placeFile(hot[hb + Hot.FirstFrame]!));
  p = key(b, p, J_FIRST_FRAME);
  p = num(b, p, placeFrame(hot[hb + Hot.FirstFrame]!));
  p = key(b, p, J_LAST_FILE);
  p = num(b, p, placeFile(hot[hb + Hot.LastFrame]!));
  p = key(b, p, J_LAST_FRAME);
  p = num(b, p, placeFrame(hot[hb + Hot.LastFrame]!));
  if (proto === 6) {
    p = key(b, p, J_CLIENT_FLAGS);
    p = key(b, p, FLAGS_JSON[(cA ? meta[mb + Meta.FlagsA]! : meta[mb + Meta.FlagsB]!) & 0xff]!);
    p = key(b, p, J_SERVER_FLAGS);
    p = key(b, p, FLAGS_JSON[(cA ? meta[mb + Meta.FlagsB]! : meta[mb + Meta.FlagsA]!) & 0xff]!);
  }
  const icmp = t.icmp[f]!;
  if (icmp >= 0) {
    p = key(b, p, J_ICMP_TYPE);
    p = num(b, p, icmp >> 8);
    p = key(b, p, J_ICMP_CODE);
    p = num(b, p, icmp & 0xff);
  }
  const errors = icmpErrorCount(t, f);
  if (errors > 0) {
    const last = lastIcmpError(t, f);
    p = key(b, p, J_ICMP_ERRORS);
    p = num(b, p, errors);
    p = key(b, p, J_ICMP_ERROR_TYPE);
    p = num(b, p, last >> 8);
    p = key(b, p, J_ICMP_ERROR_CODE);
    p = num(b, p, last & 0xff);
  }
  const vlan = t.vlan[f]!;
  if (vlan >= 0) {
    p = key(b, p, J_VLAN);
    p = num(b, p, vlan);
  }
  if (vlanAsymmetric(meta[mb + Meta.State]!)) p = key(b, p, J_ASYMMETRIC);
  const tunnels = meta[mb + Meta.Tunnels]! & ~1; // a VLAN tag is not a tunnel
  if (tunnels) p = key(b, p, tunnelJson(tunnels));
  if (t.outer !== null && t.outer[f * Outer.W + Outer.Info] !== 0) p = outerJson(t.outer, b, p, f * Outer.W, cA);
  p = key(b, p, J_FILTER);
  p = filterText(t, b, p, f, recordedA);
  b[p++] = 0x7d;
  return p;
}

/** A tunnelled flow's outer fields (the few flows that have them: text made per flow). */
function outerJson(o: Uint32Array, b: Buffer, p: number, ob: number, cA: boolean): number {
  const info = o[ob + Outer.Info]!;
  const v4 = (info & 0xff) === 4;
  p = key(b, p, J_OUTER_CLIENT);
  p = v4 ? str(b, p, formatIPv4(o[cA ? ob + Outer.A : ob + Outer.B]!)) : jsonAddress(o, b, p, false, cA ? ob + Outer.A : ob + Outer.B);
  p = key(b, p, J_OUTER_SERVER);
  p = v4 ? str(b, p, formatIPv4(o[cA ? ob + Outer.B : ob + Outer.A]!)) : jsonAddress(o, b, p, false, cA ? ob + Outer.B : ob + Outer.A);
  if (info & OUTER_UDP) {
    const pa = o[ob + Outer.Ports]! >>> 16;
    const pb = o[ob + Outer.Ports]! & 0xffff;
    p = key(b, p, J_OUTER_CLIENT_PORT);
    p = num(b, p, cA ? pa : pb);
    p = key(b, p, J_OUTER_SERVER_PORT);
    p = num(b, p, cA ? pb : pa);
  }
  return p;
}

/**
 * Flow f's display filter as a JSON string, as filter.ts displayFilter makes it of the flow's record
 * (its sides as recorded, whatever `swap`): the common flow (TCP, UDP or SCTP between two hosts on two
 * ports) written straight from the words, the rest through displayFilter.
 */
function filterText(t: FlowWords, b: Buffer, p: number, f: number, clientIsA: boolean): number {
  const keys = t.keys;
  const kb = f * Key.W;
  const k0 = keys[kb + Key.Meta]!;
  const proto = protoOf(k0);
  const v4 = isV4(k0);
  const l4 = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 132 ? 'sctp' : null;
  const portA = keys[kb + Key.Ports]! >>> 16;
  const portB = keys[kb + Key.Ports]! & 0xffff;
  const c = clientIsA ? kb + Key.A : kb + Key.B;
  const sv = clientIsA ? kb + Key.B : kb + Key.A;
  const sameHost = v4 ? keys[c] === keys[sv] : keys[c] === keys[sv] && keys[c + 1] === keys[sv + 1] && keys[c + 2] === keys[sv + 2] && keys[c + 3] === keys[sv + 3];
  const vlanNamed = t.vlanInKey === true && t.vlan[f]! >= 0;
  if (l4 === null || !hasPorts(k0) || sameHost || portA === portB || vlanNamed) {
    const r: FilterFlow = { protoNumber: proto, ipVersion: v4 ? 4 : 6, client: addressText(keys, v4, c), server: addressText(keys, v4, sv), clientPort: hasPorts(k0) ? (clientIsA ? portA : portB) : null, serverPort: hasPorts(k0) ? (clientIsA ? portB : portA) : null, ...(t.vlan[f]! >= 0 ? { vlan: t.vlan[f]! } : {}) };
    return str(b, p, displayFilter(r, { vlanInKey: t.vlanInKey === true }));
  }
  b[p++] = 0x22;
  p = key(b, p, v4 ? F_IP_ADDR : F_IPV6_ADDR);
  p = plainAddress(keys, b, p, v4, c);
  p = key(b, p, v4 ? F_AND_IP_ADDR : F_AND_IPV6_ADDR);
  p = plainAddress(keys, b, p, v4, sv);
  const port = F_PORT[l4];
  p = key(b, p, port);
  p = num(b, p, clientIsA ? portA : portB);
  p = key(b, p, port);
  p = num(b, p, clientIsA ? portB : portA);
  p = key(b, p, v4 ? F_NOT_ICMP : F_NOT_ICMPV6);
  return p;
}

function addressText(keys: Uint32Array, v4: boolean, o: number): string {
  return v4 ? formatIPv4(keys[o]!) : formatIPv6(keys[o]!, keys[o + 1]!, keys[o + 2]!, keys[o + 3]!);
}

/** An address as text, unquoted. */
function plainAddress(keys: Uint32Array, b: Buffer, p: number, v4: boolean, o: number): number {
  if (!v4) return p + b.write(addressText(keys, false, o), p, 'latin1');
  const a = keys[o]!;
  p = num(b, p, a >>> 24);
  b[p++] = 0x2e;
  p = num(b, p, (a >>> 16) & 255);
  b[p++] = 0x2e;
  p = num(b, p, (a >>> 8) & 255);
  b[p++] = 0x2e;
  return num(b, p, a & 255);
}

function jsonAddress(keys: Uint32Array, b: Buffer, p: number, v4: boolean, o: number): number {
  if (!v4) return str(b, p, formatIPv6(keys[o]!, keys[o + 1]!, keys[o + 2]!, keys[o + 3]!));
  const a = keys[o]!;
  b[p++] = 0x22;
  p = num(b, p, a >>> 24);
  b[p++] = 0x2e;
  p = num(b, p, (a >>> 16) & 255);
  b[p++] = 0x2e;
  p = num(b, p, (a >>> 8) & 255);
  b[p++] = 0x2e;
  p = num(b, p, a & 255);
  b[p++] = 0x22;
  return p;
}

// The constant pieces of a flow's JSON line, as bytes: the keys are fields.ts's, in its order.
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
const PROTO_JSON = Array.from({ length: 256 }, (_, n) => ascii(`${text(jsonKey('proto'))}${JSON.stringify(PROTO_NAMES[n] ?? String(n))}`));
const J_V4 = ascii(`${text(jsonKey('ipVersion'))}4${text(jsonKey('client'))}`);
const J_V6 = ascii(`${text(jsonKey('ipVersion'))}6${text(jsonKey('client'))}`);
const J_CLIENT_PORT = jsonKey('clientPort');
const J_SERVER = jsonKey('server');
const J_SERVER_PORT = jsonKey('serverPort');
const J_PACKETS = jsonKey('packets');
const J_BYTES = jsonKey('bytes');
const J_CLIENT_PACKETS = jsonKey('clientPackets');
const J_CLIENT_BYTES = jsonKey('clientBytes');
const J_SERVER_PACKETS = jsonKey('serverPackets');
const J_SERVER_BYTES = jsonKey('serverBytes');
const J_START = jsonKey('start');
const J_END = jsonKey('end');
const J_DURATION = jsonKey('duration');
const J_NO_TIME = ascii(`${text(J_START)}null${text(J_END)}null${text(J_DURATION)}0`);
const J_OUTCOME = jsonKey('outcome');
const J_NULL = ascii('null');
const OUTCOME_JSON: Record<TcpOutcome, Uint8Array> = {
  established: ascii('"established"'), attempted: ascii('"attempted"'), rejected: ascii('"rejected"'), partial: ascii('"partial"'),
};
const DIRECTION_JSON = DIRECTION_EVIDENCE.map((d) => ascii(`${text(jsonKey('direction'))}"${d}"`));
const J_DIRECTION_CATALOG = ascii(`${text(jsonKey('direction'))}"catalog-port"`);
const J_FIRST_FILE = jsonKey('firstFile');
const J_FIRST_FRAME = jsonKey('firstFrame');
const J_LAST_FILE = jsonKey('lastFile');
const J_LAST_FRAME = jsonKey('lastFrame');
const J_FILTER = jsonKey('filter');
const F_IP_ADDR = ascii('ip.addr==');
const F_IPV6_ADDR = ascii('ipv6.addr==');
const F_AND_IP_ADDR = ascii(' && ip.addr==');
const F_AND_IPV6_ADDR = ascii(' && ipv6.addr==');
const F_PORT = { tcp: ascii(' && tcp.port=='), udp: ascii(' && udp.port=='), sctp: ascii(' && sctp.port==') } as const;
const F_NOT_ICMP = ascii(' && !icmp"');
const F_NOT_ICMPV6 = ascii(' && !icmpv6"');
const J_CLIENT_FLAGS = jsonKey('clientFlags');
const J_SERVER_FLAGS = jsonKey('serverFlags');
const FLAGS_JSON = FLAG_TEXT.map((t) => ascii(JSON.stringify(t)));
const J_ICMP_TYPE = jsonKey('icmpType');
const J_ICMP_CODE = jsonKey('icmpCode');
const J_ICMP_ERRORS = jsonKey('icmpErrors');
const J_ICMP_ERROR_TYPE = jsonKey('icmpErrorType');
const J_ICMP_ERROR_CODE = jsonKey('icmpErrorCode');
const J_VLAN = jsonKey('vlan');
const J_ASYMMETRIC = ascii(`${text(jsonKey('vlanAsymmetric'))}true`);
const J_OUTER_CLIENT = jsonKey('outerClient');
const J_OUTER_SERVER = jsonKey('outerServer');
const J_OUTER_CLIENT_PORT = jsonKey('outerClientPort');
const J_OUTER_SERVER_PORT = jsonKey('outerServerPort');
const tunnelText = new Map<number, Uint8Array>();
function tunnelJson(t: number): Uint8Array {
  let json = tunnelText.get(t);
  if (json === undefined) tunnelText.set(t, (json = ascii(`${text(jsonKey('tunnel'))}${JSON.stringify(tunnelNames(t))}`)));
  return json;
}

/** ISO 8601 text of a time as JSON bytes; the part down to the second is made once per second (the last two kept: a flow's start and end alternate). */
export class IsoBytes {
  private sec = NaN;
  private head: Uint8Array = new Uint8Array(0);
  private otherSec = NaN;
  private otherHead: Uint8Array = new Uint8Array(0);

  write(b: Buffer, p: number, sec: number, ns: number, digits: number): number {
    if (sec !== this.sec) {
      if (sec === this.otherSec) {
        const h = this.head;
        this.head = this.otherHead;
        this.otherHead = h;
        this.otherSec = this.sec;
        this.sec = sec;
      } else {
        const whole = formatIso(sec, 0, 0);
        this.otherHead = this.head;
        this.otherSec = this.sec;
        this.head = ascii(`"${whole.slice(0, -1)}`);
        this.sec = sec;
      }
    }
    p = key(b, p, this.head);
    if (digits > 0) {
      b[p++] = 0x2e;
      let div = 100_000_000;
      for (let d = 0; d < digits; d++) {
        b[p++] = 0x30 + (Math.floor(ns / div) % 10);
        div /= 10;
      }
    }
    b[p++] = 0x5a; // Z
    b[p++] = 0x22;
    return p;
  }
}
