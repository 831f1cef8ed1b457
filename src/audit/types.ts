import type { Cite } from '../catalog/types.js';
import type { Grant } from '../inspect/grants.js';
import type { FlowRecord } from '../flow/table.js';

/** A grant from the inspect stage: a port a negotiation seen in the capture made legitimate. */
export type GrantLike = Grant;

/**
 * `background`: no product rule makes the flow expected, but the background catalog (the
 * infrastructure every site runs: DNS, Kerberos, ICMP…) covers it.
 */
export type Verdict = 'expected' | 'role-mismatch' | 'undocumented' | 'background';
export type RequirementState = 'satisfied' | 'missing' | 'failing' | 'inconclusive';
export type RoleSource = 'given' | 'inferred' | 'unknown';

export interface JudgedFlow extends FlowRecord {
  verdict: Verdict;
  /** `catalog:rule-id` (`background:dns` for a background flow), or null when undocumented. */
  rule: string | null;
  /** Every rule the flow fits (when roles cannot tell two readings apart, it counts for each). */
  matches: string[];
  cite: Cite | null;
  clientRoles: string[];
  serverRoles: string[];
  clientRolesFrom: RoleSource;
  serverRolesFrom: RoleSource;
  /** The grant that explains a dynamic port. */
  grant?: { reason: string; host: string; port: number | null; at: string; detail: string };
  /** Why the verdict is what it is, in a sentence. */
  detail: string;
  waived?: { reason: string; expires?: string };
}

/**
 * The verdict of a flow without the flow's own counters and times: shared by every flow of the same
 * readings and host profiles (hundreds of thousands of flows make a few hundred of them).
 */
export interface Judgement {
  /** The catalog's port shows the recorded server is the client: the judged flow has its sides exchanged. */
  swapped: boolean;
  clientRoles: string[];
  serverRoles: string[];
  clientRolesFrom: RoleSource;
  serverRolesFrom: RoleSource;
  verdict: Verdict;
  rule: string | null;
  matches: string[];
  cite: Cite | null;
  grant?: JudgedFlow['grant'];
  detail: string;
}

export interface RequirementFinding {
  /** `catalog:requirement-id`. */
  rule: string;
  status: RequirementState;
  from: string;
  to: string | null;
  proto: string;
  ports: Array<number | string>;
  description: string;
  detail: string;
  cite: Cite | null;
  /** The flows (as client:port → server:port) that decided the status. */
  evidence: string[];
  /** The first MAX_FILTER_FLOWS (flow/filter.ts) of those flows: where their packets are, and their filters. */
  evidenceFlows: EvidenceFlow[];
  /**
   * A tshark display filter for the finding's packets: its evidence flows' (`||`), or, past
   * MAX_FILTER_FLOWS flows or with none, its hosts and its protocol on its numeric ports.
   */
  filter: string;
  /** The same as a BPF expression; null when a flow is tunnelled (BPF reads only the outer headers). */
  bpf: string | null;
  /**
   * The roles the finding is between: each host's roles (given or inferred) where it has some, else
   * the roles the requirement expects on that side (a host of the role map that was never seen, a
   * peer nobody answered for). Set by the audit with rolesFrom.
   */
  fromRoles?: string[];
  toRoles?: string[];
  /** How long the capture watched the finding's first host (from its first packet, or the capture's start, to the end), in seconds. */
  watchedSeconds?: number;
  /**
   * Whether the hosts the finding names (`from`, and `to` when there is one) have roles the user gave
   * (`given`), none of them (`inferred`: roles learnt from traffic or read off the port), or some
   * (`mixed`). Set by the audit once the requirements are checked.
   */
  rolesFrom?: 'given' | 'inferred' | 'mixed';
  waived?: { reason: string; expires?: string };
  /** A negotiation's follow-up (see audit/followups.ts): the answer, and what followed it. */
  followUp?: FollowUp;
}

/** A flow that decided a finding, with where its packets are (FlowRecord's fields) and its own filters. */
export interface EvidenceFlow {
  proto: string;
  client: string;
  clientPort: number | null;
  server: string;
  serverPort: number | null;
  outcome: FlowRecord['outcome'];
  packets: number;
  start: string | null;
  firstFile: number;
  firstFrame: number;
  lastFile: number;
  lastFrame: number;
  filter: string;
  bpf: string | null;
}

export interface FollowUp {
  reason: string;
  kind: string;
  /** Where the answer (or the TFTP request) is: file and record number; null for a call never answered. */
  file: string | null;
  frame: number | null;
  requestFrame?: number;
  /** What was asked for: an RPC interface, a SQL instance. */
  subject?: string;
  /** The endpoints the answer named. */
  granted: string[];
  /** The status of an answer that refused (EPT_S_NOT_REGISTERED). */
  refused?: string;
  /** Frames of identical earlier answers nothing followed before this one granted the same again. */
  superseded: number[];
  /** What satisfied it. */
  by: 'new-connection' | 'earlier-connection' | 'alternative' | null;
  /** The catalog rule that documents the negotiated ports, or null: an undocumented negotiation. */
  documentedBy: string | null;
  /** The negotiation call itself was never answered: nothing was granted. */
  unanswered?: boolean;
}
