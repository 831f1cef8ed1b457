/**
 * Every bound on what hostile payloads can make the inspectors hold or do, in one place. Going over
 * one is never fatal: the inspector keeps what fits, counts each excess in its statistics
 * (`InspectorStats.bounds`, by the names of BoundName) and goes on, so a report shows that a capture
 * asked for more than was read. The values sit far above what real traffic uses (the Windows
 * captures of the shared corpus stay under all of them), and low enough that the worst file cannot
 * make the audit's memory or time grow with anything but the flows.
 */

/** The shared TCP reassembler (tcp-stream.ts); over a bound, connections are given up (`streamsDropped`). */
export const REASSEMBLY = {
  /** Connections followed at once: a site's busiest endpoint mapper serves a few hundred in parallel. */
  maxStreams: 4096,
  /**
   * Unconsumed plus out-of-order bytes one direction may hold: a DCE/RPC fragment is at most 65 535
   * bytes (frag_length is 16 bits), so four of them waiting behind a hole is plenty.
   */
  maxBufferedBytes: 256 * 1024,
  /** The same over all connections: what a capture of thousands of stalled connections may cost. */
  maxTotalBytes: 64 * 1024 * 1024,
  /** Out-of-order segments held per direction while waiting for the bytes before them. */
  maxOutOfOrder: 16,
} as const;

/** The DCE/RPC inspector on TCP 135 (dcerpc-inspector.ts, dcerpc.ts). */
export const DCERPC = {
  /**
   * Stub bytes the fragmented answers of one connection may hold until their PFC_LAST_FRAG. Each fragment is
   * at most the max_recv_frag the bind negotiated (Windows offers 5 840; the 16-bit frag_length allows
   * 65 535), but nothing bounds how many fragments come before the last; an ept_map answer of 64 towers is under 8 KiB and a DCOM activation answer a few
   * KiB, so 1 MiB is a sane total. An answer that would go past it is dropped: `answer-bytes`.
   */
  maxAnswerBytes: 1024 * 1024,
  /** The same over all connections' unfinished answers: `pending-answer-bytes`. */
  maxPendingBytes: 32 * 1024 * 1024,
  /** Calls awaiting their answer per connection (Windows clients have one or two): `calls`. */
  maxCalls: 64,
  /** Binds and alter_contexts awaiting their ack per connection: `binds`. */
  maxBinds: 16,
  /** Presentation contexts one bind may propose (Windows proposes three): `contexts-per-bind`. */
  maxContextsPerBind: 16,
  /** Accepted presentation contexts per connection: `contexts`. */
  maxContexts: 64,
  /** Answers remembered per connection to recognise their TCP retransmissions. */
  answersRemembered: 8,
  /** Array entries an ept_map answer may declare before it is not an answer at all (parse sanity). */
  maxTowerPointers: 1024,
  /** Bytes of one tower (a real one is about 75). */
  maxTowerBytes: 4096,
  /**
   * Grants one ept_map answer makes: a client asks for max_towers (Windows asks for 1 to 4) and the
   * endpoint mapper answers with that many at most: `towers-per-answer`.
   */
  maxTowersPerAnswer: 64,
  /** Endpoints one DCOM answer names (one per address of the server): `bindings-per-answer`. */
  maxBindingsPerAnswer: 64,
  /**
   * 16-bit units the DCOM string-binding search may examine per stub byte pair: the search tries
   * every offset, and a crafted stub could make each try walk thousands of units: `scan-work`.
   */
  scanWorkPerUnit: 16,
} as const;

/** The SQL Server Browser inspector on UDP 1434 (ssrp.ts). */
export const SSRP = {
  /**
   * Instances one answer may grant: SQL Server runs at most 50 instances on one computer (Maximum
   * Capacity Specifications), and a CLNT_BCAST_EX answer comes from one server: `instances-per-answer`.
   */
  maxInstancesPerAnswer: 64,
} as const;

/** The TFTP inspector on UDP 69 (tftp.ts). */
export const TFTP = {
  /** Requests remembered to recognise a client's retransmission: `requests-remembered`. */
  maxRemembered: 4096,
} as const;

/** What the inspectors of one analysis may grant in all (inspector.ts, GrantSink). */
export const GRANTS = {
  /**
   * Grants naming one host: a domain controller answering an ept_map call from every client of a
   * large site for a day stays far below: `grants-per-host`.
   */
  maxPerHost: 65_536,
  /** Grants in all, a few hundred bytes each: about 100 MB at the bound: `grants`. */
  maxTotal: 262_144,
} as const;

/** The names bounds are counted under in InspectorStats.bounds. */
export type BoundName =
  | 'answer-bytes'
  | 'pending-answer-bytes'
  | 'calls'
  | 'binds'
  | 'contexts-per-bind'
  | 'contexts'
  | 'towers-per-answer'
  | 'bindings-per-answer'
  | 'scan-work'
  | 'instances-per-answer'
  | 'requests-remembered'
  | 'grants-per-host'
  | 'grants';
