/**
 * Who is the client of a flow, as pure functions. A decision ("claim") is the evidence (layout.ts
 * Evidence, weakest first) and the side: `evidence * 2 + 1` when A is the client, `evidence * 2` when
 * B is. The first packet decides; a TCP SYN (or a lone SYN-ACK confirmed by a later packet) overrules
 * a weaker decision; merging shards keeps the stronger one.
 */
import { Evidence, State } from './layout.js';
import { Tcp } from './tcp-state.js';

/** No decision: the flow keeps the one it has. */
export const NO_CLAIM = -1;

export function claim(evidence: Evidence, clientIsA: boolean): number {
  return evidence * 2 + (clientIsA ? 1 : 0);
}

export function claimEvidence(c: number): Evidence {
  return c >> 1;
}

export function claimClientIsA(c: number): boolean {
  return (c & 1) === 1;
}

/** 0 well-known, 1 registered, 2 dynamic. */
function portRank(port: number): number {
  return port < 1024 ? 0 : port < 49152 ? 1 : 2;
}

/**
 * What a flow's first packet says: a pure SYN, an ICMP request or reply, the port ranks, the capture
 * interface's direction flag, else the sender. `srcIsA` is whether the sender is side A.
 */
export function firstPacketClaim(
  proto: number, tcpFlags: number, icmpType: number, sp: number, dp: number, ports: boolean, captureDirection: number, srcIsA: boolean,
): number {
  let srcIsClient = true;
  let ev = Evidence.FirstPacket;
  if (proto === 6 && tcpFlags & Tcp.Syn && !(tcpFlags & Tcp.Ack)) {
    ev = Evidence.Syn;
  } else if (proto === 1 || proto === 58) {
    const t = icmpType;
    // Echo, timestamp, information, address mask, router solicitation … requests vs. their replies.
    const request = proto === 1 ? t === 8 || t === 13 || t === 15 || t === 17 : t === 128 || t === 133 || t === 135;
    const reply = proto === 1 ? t === 0 || t === 14 || t === 16 || t === 18 : t === 129 || t === 134 || t === 136;
    if (request || reply) {
      srcIsClient = request;
      ev = Evidence.IcmpType;
    }
  } else if (sp !== dp && ports && (proto === 6 || portRank(sp) !== portRank(dp))) {
    // The side on the ephemeral (higher-ranked, then higher) port talks to the well-known one.
    const rs = portRank(sp);
    const rd = portRank(dp);
    srcIsClient = rs !== rd ? rs > rd : sp > dp;
    ev = Evidence.PortRank;
  } else if (captureDirection !== 0) {
    // The capturing host is taken as the client: an outbound packet's sender, an inbound one's receiver.
    srcIsClient = captureDirection === 2;
    ev = Evidence.EpbFlags;
  }
  return claim(ev, srcIsClient === srcIsA);
}

/**
 * What a later TCP segment says, against the state before it: the first SYN names its sender, and
 * anything but another SYN-ACK after a lone SYN-ACK confirms its receiver.
 */
export function tcpClaim(st: number, flags: number, fromA: boolean): number {
  if (st & (State.SynA | State.SynB)) return NO_CLAIM;
  const syn = flags & Tcp.Syn;
  const ack = flags & Tcp.Ack;
  if (syn && !ack) return claim(Evidence.Syn, fromA);
  if (st & State.PendingSynAck && !(syn && ack)) return claim(Evidence.SynAck, (st & State.PendingToA) !== 0);
  return NO_CLAIM;
}

/**
 * The decision for a flow continued by a shard: a SYN already seen keeps `mine`; a lone SYN-ACK at the
 * end of `mine` is confirmed by the shard's packets; otherwise the stronger evidence wins.
 */
export function mergedClaim(mineState: number, mine: number, theirs: number): number {
  if (mineState & (State.SynA | State.SynB)) return mine;
  const c = mineState & State.PendingSynAck ? claim(Evidence.SynAck, (mineState & State.PendingToA) !== 0) : mine;
  return claimEvidence(theirs) > claimEvidence(c) ? theirs : c;
}
