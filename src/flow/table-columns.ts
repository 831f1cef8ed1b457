/**
 * A flow table's flows as columns in export order, for the audit: hosts numbered (hosts.ts: each
 * address text made once, not twice a flow), records and JSON lines made from the words only when a
 * report asks for them.
 */
import { emptyColumns, OUTCOME_INDEX, type FlowColumns } from './columns.js';
import { exportOrder, record } from './export.js';
import { HostIds } from './hosts.js';
import { IsoBytes, jsonLine } from './json.js';
import { hasPorts, Hot, isV4, Key, Meta, protoOf, vlanAsymmetric, type FlowWords } from './layout.js';
import { udpRejected } from './icmp-errors.js';
import { flowOutcome } from './tcp-state.js';

export function tableColumns(t: FlowWords): FlowColumns {
  const order = exportOrder(t);
  const n = order.length;
  const keys = t.keys;
  const hot = t.hot;
  const meta = t.meta;
  const ids = new HostIds();
  const iso = new IsoBytes();
  // The line without its closing brace: the audit appends the judgement's fields.
  const c = emptyColumns(n, ids.hosts, (i) => record(t, order[i]!), (b, p, i, swap) => jsonLine(t, b, p, order[i]!, iso, swap) - 1);
  for (let i = 0; i < n; i++) {
    const f = order[i]!;
    const kb = f * Key.W;
    const hb = f * Hot.W;
    const mb = f * Meta.W;
    const k0 = keys[kb + Key.Meta]!;
    const proto = protoOf(k0);
    const v4 = isV4(k0);
    const cA = meta[mb + Meta.ClientIsA] === 1;
    const a = ids.idOf(keys, kb + Key.A, v4);
    const bb = ids.idOf(keys, kb + Key.B, v4);
    c.client[i] = cA ? a : bb;
    c.server[i] = cA ? bb : a;
    c.proto[i] = proto;
    if (hasPorts(k0)) {
      const portA = keys[kb + Key.Ports]! >>> 16;
      const portB = keys[kb + Key.Ports]! & 0xffff;
      c.clientPort[i] = cA ? portA : portB;
      c.serverPort[i] = cA ? portB : portA;
    } else {
      c.clientPort[i] = -1;
      c.serverPort[i] = -1;
    }
    const icmp = t.icmp[f]!;
    c.icmpType[i] = icmp >= 0 ? icmp >> 8 : -1;
    c.direction[i] = meta[mb + Meta.Evidence]!;
    c.outcome[i] = proto === 6 ? OUTCOME_INDEX.get(flowOutcome(t, f, cA))! : proto === 17 && udpRejected(t, f) ? OUTCOME_INDEX.get('rejected')! : 0;
    c.clientPackets[i] = cA ? hot[hb + Hot.PacketsA]! : hot[hb + Hot.PacketsB]!;
    c.serverPackets[i] = cA ? hot[hb + Hot.PacketsB]! : hot[hb + Hot.PacketsA]!;
    if (meta[mb + Meta.HasTime] === 1) {
      c.startSec[i] = hot[hb + Hot.FirstSec]!;
      c.startNs[i] = hot[hb + Hot.FirstNs]!;
    }
    if (vlanAsymmetric(meta[mb + Meta.State]!)) c.vlanAsymmetric[i] = 1;
  }
  return c;
}
