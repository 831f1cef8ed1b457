import { compareTime } from '../core/time.js';
import { FlowColumns, portOrNull, PROTO_NAMES } from '../flow/columns.js';
import type { GrantLike } from './types.js';

/** The grants of one key, in the order of the grant list, with the earliest time from each on. */
interface GrantRun {
  at: number[];
  /** Suffix minima of the grants' times: minSec[p], minNs[p] is the earliest of positions p and later. */
  minSec: number[];
  minNs: number[];
}

const ANY = '*';

function keyOf(kind: string, transport: string, host: string, port: number | null | string, peer: string, peerPort: number | null | string): string {
  return `${kind}\u0000${transport}\u0000${host}\u0000${port}\u0000${peer}\u0000${peerPort}`;
}

/**
 * The grants a flow can be explained by, found by what the flow must share with them: transport,
 * granted host and port (or any port, TFTP), peer and peer port (or any). A flow is covered by a grant
 * when one side is the granted endpoint, the other the peer, and it starts at or after the grant; of
 * the grants that cover it, the latest in the list explains it (a port granted again and again credits
 * each use to its own answer). Finding it costs a few map look-ups and a binary search, not a pass over
 * every grant: the audit asks for every flow of a granted host and every dynamic rule.
 */
export class GrantIndex {
  /** By kind (or ANY), transport, host, port (or ANY), peer, peer port (or ANY). */
  private readonly runs = new Map<string, GrantRun>();
  /** Per transport, by host id: whether some grant names the host (its flows need a look-up at all). */
  private readonly named = new Map<string, Uint8Array>();

  constructor(
    private readonly grants: GrantLike[],
    private readonly c: FlowColumns,
  ) {
    const hostsOf = new Map<string, Set<string>>();
    grants.forEach((g, k) => {
      const port = g.port ?? ANY;
      const peerPort = g.peerPort ?? ANY;
      for (const kind of [g.kind, ANY]) {
        const key = keyOf(kind, g.transport, g.host, port, g.peer, peerPort);
        let run = this.runs.get(key);
        if (!run) this.runs.set(key, (run = { at: [], minSec: [], minNs: [] }));
        run.at.push(k);
      }
      let set = hostsOf.get(g.transport);
      if (!set) hostsOf.set(g.transport, (set = new Set()));
      set.add(g.host);
    });
    for (const run of this.runs.values()) {
      let sec = Infinity;
      let ns = 0;
      for (let p = run.at.length - 1; p >= 0; p--) {
        const g = grants[run.at[p]!]!;
        if (compareTime(g.fromSec, g.fromNs, sec, ns) < 0) {
          sec = g.fromSec;
          ns = g.fromNs;
        }
        run.minSec[p] = sec;
        run.minNs[p] = ns;
      }
    }
    for (const [transport, set] of hostsOf) {
      const marks = new Uint8Array(c.hosts.length);
      for (let h = 0; h < c.hosts.length; h++) if (set.has(c.hosts[h]!)) marks[h] = 1;
      this.named.set(transport, marks);
    }
  }

  /** Whether a grant names one of flow i's hosts on its transport: only then can a grant cover it. */
  touches(i: number): boolean {
    const c = this.c;
    const marks = this.named.get(PROTO_NAMES[c.proto[i]!]!);
    return marks !== undefined && (marks[c.server[i]!] === 1 || marks[c.client[i]!] === 1);
  }

  /**
   * The latest grant of `kind` (of any kind: null) that covers flow i, its server side being the
   * granted endpoint (the client side, `swapped`), or undefined.
   */
  latest(i: number, swapped: boolean, kind: string | null): GrantLike | undefined {
    const k = this.latestAt(i, swapped, kind);
    return k < 0 ? undefined : this.grants[k];
  }

  /** The same grant's place in the grant list (later grants are greater), or -1. */
  latestAt(i: number, swapped: boolean, kind: string | null): number {
    const c = this.c;
    const transport = PROTO_NAMES[c.proto[i]!]!;
    const host = c.hosts[swapped ? c.client[i]! : c.server[i]!]!;
    const port = portOrNull(swapped ? c.clientPort[i]! : c.serverPort[i]!);
    const peer = c.hosts[swapped ? c.server[i]! : c.client[i]!]!;
    const peerPort = portOrNull(swapped ? c.serverPort[i]! : c.clientPort[i]!);
    const k = kind ?? ANY;
    const sec = c.startSec[i]!;
    const ns = c.startNs[i]!;
    let best = -1;
    for (const gp of port === null ? [ANY] : [port, ANY]) {
      for (const pp of peerPort === null ? [ANY] : [peerPort, ANY]) {
        const run = this.runs.get(keyOf(k, transport, host, gp, peer, pp));
        if (run === undefined) continue;
        // The last position whose grant is not later than the flow: the last p with min[p] <= start.
        let lo = 0;
        let hi = run.at.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (compareTime(run.minSec[mid]!, run.minNs[mid]!, sec, ns) <= 0) lo = mid + 1;
          else hi = mid;
        }
        if (lo > 0) best = Math.max(best, run.at[lo - 1]!);
      }
    }
    return best;
  }

  grant(k: number): GrantLike {
    return this.grants[k]!;
  }
}
