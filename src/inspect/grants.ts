import type { DynamicKind } from '../catalog/types.js';
import type { BoundName } from './bounds.js';

export type GrantReason = 'dcerpc-epm' | 'dcom' | 'ssrp' | 'tftp';

/**
 * A port that a negotiation seen in the capture made legitimate: the endpoint mapper named it, a DCOM
 * answer named it in a string binding, the SQL Server Browser named it, or a TFTP request implies the
 * transfer that follows. The auditor, not the inspector, decides whether a flow is explained by it and
 * whether the negotiation was followed.
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
  /**
   * The negotiation (one answer) the grant came from, numbered from 0 in capture order: the towers of
   * one ept_map reply share it, so a connection to any of them follows the negotiation.
   */
  negotiation: number;
  /** What was asked for, where the inspector can tell: `RPC_NETLOGON`, an interface UUID, an instance name. */
  subject?: string;
  evidence: {
    file: string;
    /** Record (frame) number of the answer, or of the request for TFTP. */
    record: number;
    /** Record number of the request, where a separate request was seen. */
    requestRecord?: number;
    client: string;
    clientPort: number;
    server: string;
    serverPort: number;
    detail: string;
  };
}

/**
 * A negotiation that was answered with a refusal: the endpoint mapper's EPT_S_NOT_REGISTERED (no towers),
 * a DCOM activation that returned an error. Nothing is granted; the audit reports it as failing.
 */
export interface FailedNegotiation {
  reason: GrantReason;
  kind: DynamicKind;
  negotiation: number;
  /** The client that asked, and the server that refused. */
  peer: string;
  server: string;
  fromSec: number;
  fromNs: number;
  /** The status the answer carried, by name where known (`EPT_S_NOT_REGISTERED`) and in hex. */
  status: string;
  subject?: string;
  evidence: Grant['evidence'];
}

/** What one inspector read and could not read: shown in the capture-quality section. */
export interface InspectorStats {
  /** The registry row's name: `dcerpc-epm`, `dcom`, `ssrp`, `tftp`. */
  inspector: string;
  /** Negotiations decoded (answers read, or requests for TFTP). */
  read: number;
  /** PDUs or datagrams that were the inspector's but could not be decoded. */
  malformed: number;
  /** Refusals decoded (FailedNegotiation). */
  refused: number;
  /** Retransmitted answers recognised and not counted again. */
  retransmitted: number;
  /** Streams the shared reassembler gave up at its bounds (too many at once, too many bytes buffered). */
  streamsDropped: number;
  /**
   * How often each of the inspector's other bounds (bounds.ts) was reached: what was left unread or
   * ungranted there (an instance past the 64th of an answer, an answer past 1 MiB). Empty when none was.
   */
  bounds: Partial<Record<BoundName, number>>;
}
