/** A flow table's flows as plain records, in export order (by first packet). */
import { formatIPv4, formatIPv6 } from '../core/addr.js';
import { formatIso } from '../core/time.js';
import { PROTO_NAMES } from './columns.js';
import { hasPorts, Hot, isV4, Key, Meta, Outer, OUTER_UDP, placeFile, placeFrame, protoOf, vlanAsymmetric, type FlowWords } from './layout.js';
import { DIRECTION_EVIDENCE, FLAG_TEXT, tunnelNames, type FlowRecord } from './record.js';
import { icmpErrorCount, lastIcmpError, udpRejected } from './icmp-errors.js';
import { displayFilter } from './filter.js';
import { flowOutcome } from './tcp-state.js';

/** Flow indices sorted by first packet (flows without time first), ties in creation order. */
export function exportOrder(t: FlowWords): Uint32Array {
  const n = t.size;
  const hot = t.hot;
  const meta = t.meta;
  const order = new Uint32Array(n);
  for (let f = 0; f < n; f++) order[f] = f;
  const sec = (f: number) => (meta[f * Meta.W + Meta.HasTime] ? hot[f * Hot.W + Hot.FirstSec]! : -Infinity);
  const ns = (f: number) => (meta[f * Meta.W + Meta.HasTime] ? hot[f * Hot.W + Hot.FirstNs]! : 0);
  const sorted = Array.from(order).sort((a, b) => sec(a) - sec(b) || ns(a) - ns(b) || a - b);
  return Uint32Array.from(sorted);
}

/**
 * Plain records in batches, in order of first packet: a writer can stream millions of flows without
 * holding them all as objects at once. Small batches keep each batch's text under V8's large-object
 * size, so it dies young instead of growing the old generation.
 */
export function* recordBatches(t: FlowWords, size: number): Generator<FlowRecord[]> {
  const order = exportOrder(t);
  for (let i = 0; i < order.length; i += size) {
    const batch: FlowRecord[] = [];
    for (let j = i; j < Math.min(order.length, i + size); j++) batch.push(record(t, order[j]!));
    yield batch;
  }
}

/** Flow f's record. */
export function record(t: FlowWords, f: number): FlowRecord {
  const b = f * Key.W;
  const hb = f * Hot.W;
  const mb = f * Meta.W;
  const keys = t.keys;
  const hot = t.hot;
  const meta = t.meta;
  const k0 = keys[b + Key.Meta]!;
  const proto = protoOf(k0);
  const version = isV4(k0) ? 4 : 6;
  const ports = hasPorts(k0);
  const addr = (o: number) => (version === 4 ? formatIPv4(keys[o]!) : formatIPv6(keys[o]!, keys[o + 1]!, keys[o + 2]!, keys[o + 3]!));
  const portA = keys[b + Key.Ports]! >>> 16;
  const portB = keys[b + Key.Ports]! & 0xffff;
  const cA = meta[mb + Meta.ClientIsA] === 1;
  const pC = cA ? hot[hb + Hot.PacketsA]! : hot[hb + Hot.PacketsB]!;
  const pS = cA ? hot[hb + Hot.PacketsB]! : hot[hb + Hot.PacketsA]!;
  const bC = cA ? hot[hb + Hot.BytesA]! : hot[hb + Hot.BytesB]!;
  const bS = cA ? hot[hb + Hot.BytesB]! : hot[hb + Hot.BytesA]!;
  const hasTime = meta[mb + Meta.HasTime] === 1;
  const digits = meta[mb + Meta.Digits]!;
  const r: FlowRecord = {
    proto: PROTO_NAMES[proto] ?? String(proto),
    protoNumber: proto,
    ipVersion: version,
    client: addr(cA ? b + Key.A : b + Key.B),
    clientPort: ports ? (cA ? portA : portB) : null,
    server: addr(cA ? b + Key.B : b + Key.A),
    serverPort: ports ? (cA ? portB : portA) : null,
    packets: pC + pS,
    bytes: bC + bS,
    clientPackets: pC,
    clientBytes: bC,
    serverPackets: pS,
    serverBytes: bS,
    start: hasTime ? formatIso(hot[hb + Hot.FirstSec]!, hot[hb + Hot.FirstNs]!, digits) : null,
    end: hasTime ? formatIso(hot[hb + Hot.LastSec]!, hot[hb + Hot.LastNs]!, digits) : null,
    duration: hasTime ? Number((hot[hb + Hot.LastSec]! - hot[hb + Hot.FirstSec]! + (hot[hb + Hot.LastNs]! - hot[hb + Hot.FirstNs]!) / 1e9).toFixed(9)) : 0,
    outcome: proto === 6 ? flowOutcome(t, f, cA) : proto === 17 && udpRejected(t, f) ? 'rejected' : null,
    direction: DIRECTION_EVIDENCE[meta[mb + Meta.Evidence]!]!,
    firstFile: placeFile(hot[hb + Hot.FirstFrame]!),
    firstFrame: placeFrame(hot[hb + Hot.FirstFrame]!),
    lastFile: placeFile(hot[hb + Hot.LastFrame]!),
    lastFrame: placeFrame(hot[hb + Hot.LastFrame]!),
    startSec: hasTime ? hot[hb + Hot.FirstSec]! : 0,
    startNs: hasTime ? hot[hb + Hot.FirstNs]! : 0,
  };
  if (proto === 6) {
    r.clientFlags = FLAG_TEXT[(cA ? meta[mb + Meta.FlagsA]! : meta[mb + Meta.FlagsB]!) & 0xff]!;
    r.serverFlags = FLAG_TEXT[(cA ? meta[mb + Meta.FlagsB]! : meta[mb + Meta.FlagsA]!) & 0xff]!;
  }
  const icmp = t.icmp[f]!;
  if (icmp >= 0) {
    r.icmpType = icmp >> 8;
    r.icmpCode = icmp & 0xff;
  }
  const errors = icmpErrorCount(t, f);
  if (errors > 0) {
    r.icmpErrors = errors;
    r.icmpErrorType = lastIcmpError(t, f) >> 8;
    r.icmpErrorCode = lastIcmpError(t, f) & 0xff;
  }
  if (t.vlan[f]! >= 0) r.vlan = t.vlan[f]!;
  if (vlanAsymmetric(meta[mb + Meta.State]!)) r.vlanAsymmetric = true;
  const tunnels = meta[mb + Meta.Tunnels]! & ~1; // a VLAN tag is not a tunnel
  if (tunnels) r.tunnel = tunnelNames(tunnels);
  const o = t.outer;
  const ob = f * Outer.W;
  if (o !== null && o[ob + Outer.Info] !== 0) {
    const info = o[ob + Outer.Info]!;
    const outerAddr = (w: number) => ((info & 0xff) === 4 ? formatIPv4(o[w]!) : formatIPv6(o[w]!, o[w + 1]!, o[w + 2]!, o[w + 3]!));
    r.outerClient = outerAddr(cA ? ob + Outer.A : ob + Outer.B);
    r.outerServer = outerAddr(cA ? ob + Outer.B : ob + Outer.A);
    if (info & OUTER_UDP) {
      const pa = o[ob + Outer.Ports]! >>> 16;
      const pb = o[ob + Outer.Ports]! & 0xffff;
      r.outerClientPort = cA ? pa : pb;
      r.outerServerPort = cA ? pb : pa;
    }
  }
  r.filter = displayFilter(r, { vlanInKey: t.vlanInKey === true });
  return r;
}
