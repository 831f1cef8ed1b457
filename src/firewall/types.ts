/**
 * The allow-list as data: what `flowaudit firewall` derives from an audit (allow-list.ts) and every
 * output writes (text, CSV, JSON, nftables). The JSON report is this object as it stands; its
 * contract is schema/firewall-report.schema.json.
 */
import type { Cite } from '../catalog/types.js';

/**
 * Who a firewall rule is between: a role of the role map (its blocks), a zone of the zones file, or a
 * single address (a host with no role, a broadcast or multicast address).
 */
export interface AddressGroup {
  /** The role id, zone id, or the address itself. */
  name: string;
  kind: 'role' | 'zone' | 'host';
  /** Addresses and CIDR blocks the group stands for, as the firewall must match them. */
  addresses: string[];
}

/** A dynamic port range (DCE/RPC, SQL named instance, TFTP): what was granted beside what is documented. */
export interface DynamicPorts {
  kind: string;
  /** The range the vendor documents ("49152-65535"), or null where the document gives none. */
  documented: string | null;
  /** The ports negotiations in the capture granted to these hosts (used or not). */
  granted: number[];
  /** The two honest choices, in words: the documented range, or a firewall that reads the negotiation. */
  choices: string[];
  /**
   * What the rule's `ports` open: the granted ports (the default), or the documented range when it was
   * asked for (`--dynamic range`) and the document gives one.
   */
  opened: 'granted' | 'range';
}

export interface AllowRule {
  /** `source>destination:proto:catalog:rule`, unique in the list; what a baseline diff matches on. */
  id: string;
  source: string;
  destination: string;
  protocol: string;
  /**
   * Connections open from source to destination (replies pass by connection tracking); `either`: the
   * catalog rule lets either side open them, and what the other side opened is a rule of its own.
   */
  direction: 'one-way' | 'either';
  /** Destination ports, merged into ranges ("80", "49152-49160"); empty for ICMP. */
  ports: string[];
  /** ICMP and ICMPv6 types (echo request: 8, 128); empty for other protocols. */
  icmpTypes: number[];
  /** The catalog rule that justifies it (`sccm2007:link-17-http`). */
  rule: string;
  service: string;
  /** The ports the rule documents (after parameters), beside the ones the site used. */
  documentedPorts: Array<number | string>;
  cite: Cite | null;
  /** `observed`: flows used it; `required`: only a required flow that was missing or failing asks for it; `both`. */
  basis: 'observed' | 'required' | 'both';
  flows: number;
  /** Flows that never got an answer (a SYN unanswered or refused): the firewall may already block them. */
  unanswered: number;
  sourceHosts: string[];
  destinationHosts: string[];
  /** ISO 8601 times of the first and last packet of the flows that used it; null when none did. */
  firstSeen: string | null;
  lastSeen: string | null;
  /** The required-flow findings (rule ids) that ask for it. */
  requiredBy: string[];
  dynamic: DynamicPorts | null;
}

/** A required flow that was missing or failing: what a firewall in the path most likely blocks. */
export interface BlockedRequirement {
  rule: string;
  status: 'missing' | 'failing';
  from: string;
  to: string | null;
  fromRoles: string[];
  toRoles: string[];
  proto: string;
  ports: Array<number | string>;
  detail: string;
  /** The allow rule that now lets it pass, or null when the catalog's alternatives name no rule the list could hold. */
  allowedBy: string | null;
}

/** A documented rule no flow of the capture used: a candidate to leave closed. */
export interface UnusedRule {
  rule: string;
  from: string[];
  to: string[];
  transport: string[];
  ports: Array<number | string>;
  required: string;
  service: string;
  /** Whether the site has hosts of a role at both ends (false: the rule is between roles the site does not run). */
  rolesOnSite: boolean;
}

/** Observed flows no product rule allows (undocumented, or on a documented port between the wrong roles): for review, not allowed. */
export interface ReviewFlow {
  verdict: 'undocumented' | 'role-mismatch';
  source: string;
  destination: string;
  protocol: string;
  port: number | null;
  /** For a role mismatch: the rule that documents the port for other roles. */
  rule: string | null;
  flows: number;
  sourceHosts: string[];
  destinationHosts: string[];
  firstSeen: string | null;
  lastSeen: string | null;
  detail: string;
  waived: string | null;
}

/** How this allow-list differs from an earlier one of the same site (`--baseline`). */
export interface BaselineDiff {
  file: string;
  /** The earlier list's capture span. */
  first: string | null;
  last: string | null;
  added: string[];
  removed: string[];
  changed: Array<{ id: string; portsAdded: string[]; portsRemoved: string[]; icmpAdded: number[]; icmpRemoved: number[] }>;
  unchanged: number;
}

export interface AllowList {
  tool: { name: 'flowaudit'; version: string; command: 'firewall' };
  catalogs: Array<{ id: string; name: string }>;
  roles: string | null;
  zones: string | null;
  /** What "never used" is measured against: the capture's files, first and last packet, span. */
  capture: { files: string[]; first: string | null; last: string | null; spanSeconds: number | null };
  groups: AddressGroup[];
  /** The product's allow-list: every expected flow and every required flow, one rule per group pair, protocol and catalog rule. */
  rules: AllowRule[];
  /** Infrastructure the background catalog explains (DNS, Kerberos…): a firewall must pass it too, listed apart. */
  background: AllowRule[];
  diff: { blocked: BlockedRequirement[]; unused: UnusedRule[]; review: ReviewFlow[] };
  baseline: BaselineDiff | null;
  summary: { rules: number; background: number; blocked: number; unused: number; review: number; dynamic: number };
}
