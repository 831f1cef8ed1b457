/**
 * Which flows leave a long-running flow table (FlowTable.retire), and the compaction of the words of
 * those that stay. The table rebuilds its slots and remaps its fragments after.
 */
import { Hot, Key, Meta, Outer, protoOf, type FlowWords } from './layout.js';
import { finished } from './tcp-state.js';

/** When `FlowTable.retire` lets a flow go, in seconds of capture time, and how many may stay. */
export interface RetireLimits {
  /** UDP, ICMP and other protocols. */
  idle: number;
  /** TCP flows that are still open. */
  tcpIdle: number;
  /** TCP flows that ended with a reset or FINs both ways. */
  finishedIdle: number;
  maxFlows: number;
}

/**
 * Flows superseded by a new SYN (not `current`: no 5-tuple points at them), finished TCP flows idle
 * for `finishedIdle` seconds, TCP flows idle for `tcpIdle`, other flows idle for `idle` are `expired`;
 * then, while more than `maxFlows` remain, the longest idle are `evicted`. All lists ascending.
 */
export function retiredFlows(t: FlowWords, current: Uint8Array, nowSec: number, limits: RetireLimits): { keep: number[]; expired: number[]; evicted: number[] } {
  const hot = t.hot;
  const meta = t.meta;
  const keep: number[] = [];
  const expired: number[] = [];
  for (let f = 0; f < t.size; f++) {
    if (!current[f]) {
      expired.push(f);
      continue;
    }
    const last = meta[f * Meta.W + Meta.HasTime] ? hot[f * Hot.W + Hot.LastSec]! : nowSec;
    const idle = nowSec - last;
    const limit = protoOf(t.keys[f * Key.W + Key.Meta]!) === 6 ? (finished(meta[f * Meta.W + Meta.State]!) ? limits.finishedIdle : limits.tcpIdle) : limits.idle;
    if (idle >= limit) expired.push(f);
    else keep.push(f);
  }
  let evicted: number[] = [];
  if (keep.length > limits.maxFlows) {
    // Least recently seen first; ties in creation order, so the choice is reproducible.
    const lastSeen = (f: number) => (meta[f * Meta.W + Meta.HasTime] ? hot[f * Hot.W + Hot.LastSec]! + hot[f * Hot.W + Hot.LastNs]! / 1e9 : -Infinity);
    keep.sort((a, b) => lastSeen(a) - lastSeen(b) || a - b);
    // splice's own array: a spread into push() of a burst of a million evictions overflows the stack.
    evicted = keep.splice(0, keep.length - limits.maxFlows);
    keep.sort((a, b) => a - b);
  }
  return { keep, expired, evicted };
}

/** Moves the words of the kept flows (ascending) to the front, renumbered from 0; returns old → new index (-1: gone). */
export function compactWords(t: FlowWords, keep: readonly number[]): Int32Array {
  const remap = new Int32Array(t.size).fill(-1);
  keep.forEach((f, i) => {
    remap[f] = i;
    if (i === f) return;
    t.keys.copyWithin(i * Key.W, f * Key.W, (f + 1) * Key.W);
    t.hot.copyWithin(i * Hot.W, f * Hot.W, (f + 1) * Hot.W);
    t.meta.copyWithin(i * Meta.W, f * Meta.W, (f + 1) * Meta.W);
    t.icmp[i] = t.icmp[f]!;
    t.vlan[i] = t.vlan[f]!;
    t.outer?.copyWithin(i * Outer.W, f * Outer.W, (f + 1) * Outer.W);
  });
  t.size = keep.length;
  return remap;
}
