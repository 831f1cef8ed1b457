/**
 * A TCP flow's state word (layout.ts State) as pure functions: the next state after a segment, when a
 * flow is over, how the connection went, and the state of a flow continued across two shards.
 */
import type { TcpOutcome } from './record.js';
import { Evidence, Hot, Meta, State, type FlowWords } from './layout.js';

/** TCP flag bits of a segment. */
export const enum Tcp {
  Fin = 0x01,
  Syn = 0x02,
  Rst = 0x04,
  Ack = 0x10,
}

const SYN_SEEN = State.SynA | State.SynB;
const PENDING = State.PendingSynAck | State.PendingToA;

/**
 * The state after a segment with `flags` from side A (or B). `evidence` is what decided the client so
 * far: a SYN-ACK before any SYN waits to be confirmed (PendingSynAck) only when nothing stronger did.
 */
export function tcpState(st: number, flags: number, fromA: boolean, evidence: number): number {
  const syn = flags & Tcp.Syn;
  const ack = flags & Tcp.Ack;
  // Something followed a lone SYN-ACK: it no longer waits (tcpClaim takes it as evidence).
  if (st & State.PendingSynAck && !(syn && ack)) st &= ~PENDING;
  if (syn && !ack) st |= fromA ? State.SynA : State.SynB;
  else if (syn && ack) {
    st |= fromA ? State.SynAckA : State.SynAckB;
    if (!(st & SYN_SEEN) && evidence < Evidence.SynAck) st |= State.PendingSynAck | (fromA ? 0 : State.PendingToA);
  }
  if (flags & Tcp.Rst) st |= fromA ? State.RstA : State.RstB;
  if (flags & Tcp.Fin) st |= fromA ? State.FinA : State.FinB;
  return st;
}

/** Reset by either side, or FIN both ways: a new SYN on the same 5-tuple starts a new flow. */
export function finished(st: number): boolean {
  return (st & (State.RstA | State.RstB)) !== 0 || (st & (State.FinA | State.FinB)) === (State.FinA | State.FinB);
}

/** How the connection went, for a client on side A (or B) and what the server sent. */
export function tcpOutcome(st: number, clientIsA: boolean, serverPackets: number, serverFlags: number): TcpOutcome {
  if (!(st & (clientIsA ? State.SynA : State.SynB))) return 'partial';
  if (st & (clientIsA ? State.SynAckB : State.SynAckA)) return 'established';
  if (serverPackets === 0) return 'attempted';
  // The server answered only with resets: the port is closed (or a firewall answered for it).
  if (serverFlags & Tcp.Rst && (serverFlags & ~(Tcp.Rst | Tcp.Ack)) === 0) return 'rejected';
  return 'partial';
}

/** Flow f's outcome for a client on side A (or B). */
export function flowOutcome(t: FlowWords, f: number, clientIsA: boolean): TcpOutcome {
  const serverPackets = t.hot[f * Hot.W + (clientIsA ? Hot.PacketsB : Hot.PacketsA)]!;
  const serverFlags = t.meta[f * Meta.W + (clientIsA ? Meta.FlagsB : Meta.FlagsA)]!;
  return tcpOutcome(t.meta[f * Meta.W + Meta.State]!, clientIsA, serverPackets, serverFlags);
}

/**
 * The state of a flow whose earlier packets gave `mine` and whose later ones (a shard's) gave
 * `theirs`: the bits of both; a lone SYN-ACK of `mine` is confirmed by the later packets (see
 * direction.ts mergedClaim), one of `theirs` still waits unless a SYN was seen.
 */
export function mergedState(mine: number, theirs: number): number {
  let st = (mine & ~PENDING) | (theirs & ~State.OpenedBySyn);
  if (st & SYN_SEEN) st &= ~PENDING;
  return st;
}
