import type { DynamicKind } from '../catalog/types.js';

export type GrantReason = 'dcerpc-epm' | 'ssrp' | 'tftp';

/**
 * A port that a negotiation seen in the capture made legitimate: the endpoint mapper named it, the
 * SQL Server Browser named it, or a TFTP request implies the transfer that follows. The auditor, not
 * the inspector, decides whether a flow is explained by it.
 */
export interface Grant {
  /** The host that will listen on the granted port. */
  host: string;
  transport: 'tcp' | 'udp';
  /** The granted port; null when any port of `host` is granted (TFTP answers from a fresh port). */
  port: number | null;
  /** Who may connect: the client of the negotiation (and, for TFTP, its request port). */
  peer: string;
  peerPort?: number;
  /** When the grant was made (the reply's or request's timestamp). */
  fromSec: number;
  fromNs: number;
  reason: GrantReason;
  kind: DynamicKind;
  evidence: { file: string; record: number; client: string; clientPort: number; server: string; serverPort: number; detail: string };
}

/** Counters the report shows: what the inspectors read and what they could not. */
export interface InspectorStats {
  epmReplies: number;
  epmMalformed: number;
  ssrpReplies: number;
  ssrpMalformed: number;
  tftpRequests: number;
  tftpMalformed: number;
  streamsDropped: number;
}
