import type { FlowColumns } from '../flow/columns.js';
import type { GrantIndex } from './grant-index.js';
import { Candidate, Readings, WEAK } from './readings.js';
import type { Judgement } from './types.js';

/**
 * Who listens, decided here and nowhere else. The flow table names a client from what the packets
 * show (a SYN, or a guess: first packet, port rank); the catalog may know better. A judgement's
 * `swapped` says the judged flow has the recorded sides exchanged, and every later stage (JudgedFlows,
 * the reports) reads the flow through it. The sides are exchanged only when the direction is a guess
 * (no SYN) and a catalog port or a grant speaks for the other side.
 */

/** Whether flow i's direction is evidence (a SYN seen), not a guess. */
export function isStrong(c: FlowColumns, i: number): boolean {
  return !WEAK[c.direction[i]!];
}

/**
 * The readings a flow is judged by: as recorded (`first`, the list the port gives); when nothing
 * documents the recorded server's port and the direction is a guess, the readings of the other side.
 */
export function judgingReadings(r: Readings, i: number, strong: boolean): { first: Candidate[]; cands: Candidate[] } {
  const first = r.of(i, false);
  // Without a SYN our direction is a guess: if only the other side's port is documented, the
  // catalog knows better who listens.
  if (first.length === 0 && !strong) return { first, cands: r.of(i, true) };
  return { first, cands: first };
}

/**
 * The readings roles are learnt from: the narrow ones (no wide range) as recorded; when there are
 * none and the direction is a guess, the narrow ones of the other side. `first` is `r.of(i, false)`.
 */
export function learningReadings(r: Readings, c: FlowColumns, i: number, first: Candidate[]): { cands: Candidate[]; asRecorded: boolean } {
  const narrow = r.narrow(first);
  if (narrow.length > 0 || !WEAK[c.direction[i]!]) return { cands: narrow, asRecorded: narrow.length > 0 };
  return { cands: r.narrow(r.of(i, true)), asRecorded: false };
}

/** The sides a verdict reads: the flow's as recorded, or exchanged when the best reading says so. */
export function sidesOf<P>(cands: Candidate[], client: P, server: P): { swapped: boolean; client: P; server: P } {
  const swapped = cands.length > 0 && cands[0]!.swapped;
  return swapped ? { swapped, client: server, server: client } : { swapped, client, server };
}

/**
 * For a port some negotiation granted that no rule documents: the latest grant that covers the flow
 * as recorded or, without a handshake, the other way round (the grant then knows better who listens).
 * -1: none.
 */
export function grantSide(granted: GrantIndex, i: number, strong: boolean): { k: number; asRecorded: boolean } {
  const recorded = granted.latestAt(i, false, null);
  const k = Math.max(recorded, strong ? -1 : granted.latestAt(i, true, null));
  return { k, asRecorded: k === recorded };
}

/** A judgement with its sides exchanged. */
export function exchanged(j: Judgement): Judgement {
  return { ...j, swapped: !j.swapped, clientRoles: j.serverRoles, serverRoles: j.clientRoles, clientRolesFrom: j.serverRolesFrom, serverRolesFrom: j.clientRolesFrom };
}
