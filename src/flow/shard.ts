/**
 * A worker's flow table as plain typed arrays, and how one flow of it continues a flow of the table it
 * is merged into (FlowTable.mergeShard finds the flow; this merges the words).
 */
import { PacketRecord } from '../capture/record.js';
import { compareTime } from '../core/time.js';
import { PacketView } from '../decode/view.js';
import { claim, claimClientIsA, claimEvidence, mergedClaim } from './direction.js';
import type { FragmentShard, OrphanFragment } from './fragments.js';
import { Hot, Key, Meta, Outer, type FlowWords } from './layout.js';
import type { DeferredError } from './quoted-errors.js';
import { mergedState } from './tcp-state.js';

/** A flow table as plain arrays: what a worker sends back (the buffers are transferable). */
export interface FlowShard extends FlowWords {
  fragments: FragmentShard;
  /** ICMP errors whose quoted flow was not in the shard (quoted-errors.ts). */
  quotedErrors: DeferredError[];
}

/** The words of the flows in use, copied. */
export function toShard(t: FlowWords, fragments: FragmentShard, quotedErrors: DeferredError[]): FlowShard {
  const n = t.size;
  return {
    size: n,
    fragments,
    quotedErrors,
    keys: t.keys.slice(0, n * Key.W),
    hot: t.hot.slice(0, n * Hot.W),
    meta: t.meta.slice(0, n * Meta.W),
    icmp: t.icmp.slice(0, n),
    vlan: t.vlan.slice(0, n),
    outer: t.outer === null ? null : t.outer.slice(0, n * Outer.W),
  };
}

/** Counts the fragments a shard could not place, as the packets they were (through `add`), numbered after the `recordOffset` records before the shard. */
export function replayOrphans(deferred: readonly OrphanFragment[], recordOffset: number, add: (v: PacketView, rec: PacketRecord) => void): void {
  if (deferred.length === 0) return;
  const v = new PacketView();
  const rec = new PacketRecord();
  for (const o of deferred) {
    v.reset();
    v.ipVersion = o.ipVersion;
    v.src.set(o.src);
    v.dst.set(o.dst);
    v.proto = o.proto;
    v.fragment = 2;
    v.fragId = o.fragId;
    v.vlan = o.vlan;
    v.tunnel = o.tunnel;
    v.icmpType = o.icmpType;
    v.icmpCode = o.icmpCode;
    rec.origLen = o.origLen;
    rec.recordNo = o.recordNo + recordOffset;
    rec.tsSec = o.tsSec;
    rec.tsNs = o.tsNs;
    rec.hasTs = o.hasTs;
    rec.tsDigits = o.tsDigits;
    rec.direction = o.direction;
    add(v, rec);
  }
}

/**
 * Flow g of the shard into flow f of `t`: a `fresh` flow (new in `t`, its words zeroed) takes the
 * shard's direction and state; a continued one merges them (direction.ts mergedClaim, tcp-state.ts
 * mergedState). Counters add up, times widen, flags and tunnels join, ICMP errors add up, the first ICMP type, VLAN and outer header stay.
 * The shard numbers its frames from 1: `placeOffset` is the place (layout.ts framePlace) of the record
 * before its first; the first frame is the earlier, the last the later.
 */
export function mergeFlow(t: FlowWords, f: number, fresh: boolean, sh: FlowShard, g: number, placeOffset: number): void {
  const hot = t.hot;
  const meta = t.meta;
  const hb = f * Hot.W;
  const mb = f * Meta.W;
  const shHot = sh.hot;
  const shMeta = sh.meta;
  const gh = g * Hot.W;
  const gm = g * Meta.W;
  if (fresh) {
    meta[mb + Meta.ClientIsA] = shMeta[gm + Meta.ClientIsA]!;
    meta[mb + Meta.Evidence] = shMeta[gm + Meta.Evidence]!;
    meta[mb + Meta.State] = shMeta[gm + Meta.State]!;
  } else {
    const mine = meta[mb + Meta.State]!;
    const c = mergedClaim(
      mine,
      claim(meta[mb + Meta.Evidence]!, meta[mb + Meta.ClientIsA] === 1),
      claim(shMeta[gm + Meta.Evidence]!, shMeta[gm + Meta.ClientIsA] === 1),
    );
    meta[mb + Meta.ClientIsA] = claimClientIsA(c) ? 1 : 0;
    meta[mb + Meta.Evidence] = claimEvidence(c);
    meta[mb + Meta.State] = mergedState(mine, shMeta[gm + Meta.State]!);
  }
  const first = shHot[gh + Hot.FirstFrame]! + placeOffset;
  const last = shHot[gh + Hot.LastFrame]! + placeOffset;
  if (fresh || hot[hb + Hot.FirstFrame] === 0 || first < hot[hb + Hot.FirstFrame]!) hot[hb + Hot.FirstFrame] = first;
  if (last > hot[hb + Hot.LastFrame]!) hot[hb + Hot.LastFrame] = last;
  hot[hb + Hot.PacketsA] += shHot[gh + Hot.PacketsA]!;
  hot[hb + Hot.PacketsB] += shHot[gh + Hot.PacketsB]!;
  hot[hb + Hot.BytesA] += shHot[gh + Hot.BytesA]!;
  hot[hb + Hot.BytesB] += shHot[gh + Hot.BytesB]!;
  if (shMeta[gm + Meta.HasTime]) {
    if (!meta[mb + Meta.HasTime]) {
      meta[mb + Meta.HasTime] = 1;
      hot[hb + Hot.FirstSec] = shHot[gh + Hot.FirstSec]!;
      hot[hb + Hot.FirstNs] = shHot[gh + Hot.FirstNs]!;
      hot[hb + Hot.LastSec] = shHot[gh + Hot.LastSec]!;
      hot[hb + Hot.LastNs] = shHot[gh + Hot.LastNs]!;
    } else {
      if (compareTime(shHot[gh + Hot.FirstSec]!, shHot[gh + Hot.FirstNs]!, hot[hb + Hot.FirstSec]!, hot[hb + Hot.FirstNs]!) < 0) {
        hot[hb + Hot.FirstSec] = shHot[gh + Hot.FirstSec]!;
        hot[hb + Hot.FirstNs] = shHot[gh + Hot.FirstNs]!;
      }
      if (compareTime(shHot[gh + Hot.LastSec]!, shHot[gh + Hot.LastNs]!, hot[hb + Hot.LastSec]!, hot[hb + Hot.LastNs]!) > 0) {
        hot[hb + Hot.LastSec] = shHot[gh + Hot.LastSec]!;
        hot[hb + Hot.LastNs] = shHot[gh + Hot.LastNs]!;
      }
    }
  }
  if (shMeta[gm + Meta.Digits]! > meta[mb + Meta.Digits]!) meta[mb + Meta.Digits] = shMeta[gm + Meta.Digits]!;
  meta[mb + Meta.FlagsA] |= shMeta[gm + Meta.FlagsA]!;
  meta[mb + Meta.FlagsB] |= shMeta[gm + Meta.FlagsB]!;
  meta[mb + Meta.Tunnels] |= shMeta[gm + Meta.Tunnels]!;
  // ICMP errors add up; the shard's last one is the later.
  const errors = shMeta[gm + Meta.IcmpErrors]!;
  if (errors !== 0) meta[mb + Meta.IcmpErrors] = ((Math.min(0xffff, (meta[mb + Meta.IcmpErrors]! >>> 16) + (errors >>> 16)) << 16) | (errors & 0xffff)) >>> 0;
  if (t.icmp[f]! < 0) t.icmp[f] = sh.icmp[g]!;
  if (t.vlan[f]! < 0) t.vlan[f] = sh.vlan[g]!;
  // The outer header of the earlier tunnelled packet stays (the table made t.outer when the shard has one).
  if (sh.outer !== null && sh.outer[g * Outer.W + Outer.Info] !== 0 && t.outer![f * Outer.W + Outer.Info] === 0) {
    t.outer!.set(sh.outer.subarray(g * Outer.W, (g + 1) * Outer.W), f * Outer.W);
  }
}
