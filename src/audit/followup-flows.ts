import { compareTime } from '../core/time.js';
import type { JudgedFlows } from './judged.js';
import type { Negotiation } from './negotiations.js';
import type { Judgement } from './types.js';

/** Whether flow i's last packet is at or after the time (a connection still in use then). */
export function endsAfter(judged: JudgedFlows, i: number, sec: number, ns: number): boolean {
  const c = judged.columns;
  const d = c.record(i).duration;
  const endSec = c.startSec[i]! + d + c.startNs[i]! / 1e9;
  return endSec >= sec + ns / 1e9;
}

/**
 * A negotiation's own exchange: the flows from the peer to the responder's negotiation port (as
 * judged) that began by the answer, given as the distinct verdicts they carry (what the callers read).
 * Per (client, server, port), the flows by start time and where each distinct verdict first appears:
 * an answer's exchange is a prefix, so thousands of answers on one pair cost no pass over its flows each.
 */
export function exchangeIndex(judged: JudgedFlows, byPair: Map<number, number[]>): { of(n: Negotiation): Judgement[] } {
  const c = judged.columns;
  const lists = new Map<string, number[]>();
  for (const flows of byPair.values()) {
    for (const i of flows) {
      const key = `${c.hosts[judged.client(i)]}|${c.hosts[judged.server(i)]}|${judged.serverPort(i)}`;
      const list = lists.get(key);
      if (list) list.push(i);
      else lists.set(key, [i]);
    }
  }
  const firsts = new Map<string, { sorted: number[]; first: Array<{ at: number; j: Judgement }> }>();
  return {
    of(n: Negotiation): Judgement[] {
      const key = `${n.peer}|${n.responder}|${n.responderPort}`;
      let f = firsts.get(key);
      if (!f) {
        const sorted = [...(lists.get(key) ?? [])].sort((x, y) => compareTime(c.startSec[x]!, c.startNs[x]!, c.startSec[y]!, c.startNs[y]!) || x - y);
        const seen = new Set<number>();
        const first: Array<{ at: number; j: Judgement }> = [];
        sorted.forEach((i, at) => {
          if (seen.has(judged.of[i]!)) return;
          seen.add(judged.of[i]!);
          first.push({ at, j: judged.judgement(i) });
        });
        firsts.set(key, (f = { sorted, first }));
      }
      // The flows that began at or before the answer: a prefix of the sorted list.
      let lo = 0;
      let hi = f.sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const i = f.sorted[mid]!;
        if (compareTime(c.startSec[i]!, c.startNs[i]!, n.sec, n.ns) <= 0) lo = mid + 1;
        else hi = mid;
      }
      const out: Judgement[] = [];
      for (const x of f.first) if (x.at < lo) out.push(x.j);
      return out;
    },
  };
}
