import type { ExportSection } from '../export/ipfix-udp.js';
import type { Catalog } from '../catalog/types.js';
import { formatIso } from '../core/time.js';
import type { FlowColumns } from '../flow/columns.js';
import { AddressBlock, AddressSpace } from './addresses.js';
import type { FlowRecord } from '../flow/table.js';
import type { CaptureSummary, FlowRun } from '../flow/pipeline.js';
import type { RecordRun } from '../ingest/record-run.js';
import { isRecordRun, packetInput, recordInput } from './run-input.js';
import { isSiteRun, siteInput, type SiteRun, type SiteSummary } from './site.js';
import { checkFollowUps } from './followups.js';
import { judgeFlows } from './judge.js';
import { checkRequirements } from './requirements.js';
import { JudgedFlows } from './judged.js';
import type { CaptureQuality } from './quality.js';
import { RoleMap, RoleResolver } from './roles.js';
import type { FailedNegotiation, InspectorStats } from '../inspect/grants.js';
import type { GrantLike, RequirementFinding } from './types.js';
import { applyWaivers, Waiver } from './waivers.js';

export interface AuditReport {
  tool: { name: 'flowaudit'; version: string };
  catalogs: Array<{ id: string; name: string; file: string; rules: number; requirements: number; params: Record<string, Array<number | string>> }>;
  /** The catalog parameters set on the command line (--set), as given; absent without --set. */
  overrides?: Record<string, string>;
  /** The background catalog judged beside them (null with `--no-background`). */
  background: { id: string; name: string; file: string; rules: number } | null;
  /**
   * `site`: the prefixes inside the site besides the default space (the role map's `site:` and
   * `--site`); `inference`: whether roles were learnt from traffic (no role map, no `--no-infer`).
   */
  roles: { file: string | null; given: Record<string, string[]>; inferred: Record<string, string[]>; site: string[]; inference: boolean };
  /** `sensors`: only when the audit names its sensors (`analyze --sensor`, audit/site.ts). */
  capture: CaptureSummary & { sensors?: SiteSummary['sensors']; quality: CaptureQuality & { inspectors: InspectorStats[] } };
  grants: Array<{ reason: string; kind: string; host: string; transport: string; port: number | null; peer: string; at: string; detail: string; negotiation: number; file: string; frame: number; subject?: string }>;
  /** Judged records made on demand: see JudgedFlows. */
  flows: JudgedFlows;
  requirements: RequirementFinding[];
  waivers: { applied: number; expired: Array<{ rule?: string; port?: string; reason: string; expires?: string; line: number }> };
  /** Only from `flowaudit live`: the capture's own counters and the state of the flow table. */
  live?: LiveSection;
  /** Only from `flowaudit collect`: the listener's counts and the state of the stitcher. */
  collect?: CollectSection;
  summary: {
    flows: number;
    expected: number;
    roleMismatch: number;
    undocumented: number;
    background: number;
    waived: number;
    requirements: number;
    satisfied: number;
    missing: number;
    failing: number;
    inconclusive: number;
  };
}

export interface AuditOptions {
  catalogs: Catalog[];
  roleMap: RoleMap | null;
  grants: GrantLike[];
  /** Negotiations the inspectors read whose answer refused (nothing granted). */
  failed?: FailedNegotiation[];
  /** What each payload inspector read and could not read. */
  inspectorStats?: InspectorStats[];
  waivers?: Waiver[];
  /** YYYY-MM-DD, for waiver expiry. */
  today?: string;
  version: string;
  /** Flows that already left the flow table (a long live capture, a read past --max-flows), by start, judged along with the table's. */
  foldedFlows?: FlowRecord[];
  live?: LiveSection;
  collect?: CollectSection;
  /** Prefixes inside the site besides the default space and the role map's (`--site`). */
  site?: AddressBlock[];
  /** false: no roles are learnt from traffic (`--no-infer`); flows are judged by port and address class. */
  infer?: boolean;
  /** Seconds (`--min-span`): a host watched for less shows no missing requirement without a documented period, only inconclusive ones. */
  minSpan?: number;
  /** The --set overrides the catalogs were loaded with, for the report's header. */
  overrides?: Record<string, string>;
  /** The background catalog (catalog/background.ts); null or absent: none (`--no-background`). */
  background?: Catalog | null;
}

/** What `flowaudit live` adds to a report. */
/** What every report of a running session (live, collect) says of its time and place in the session. */
export interface SessionSection {
  started: string;
  at: string;
  elapsedSeconds: number;
  /** 1 for the first periodic report; the final report has the next number. */
  report: number;
  final: boolean;
  stoppedBy: 'duration' | 'SIGINT' | 'SIGTERM' | null;
}

export interface LiveSection extends SessionSection {
  interface: string;
  linkType: number;
  bpf: string | null;
  snaplen: number;
  bufferSize: number;
  captured: number;
  capturedBytes: number;
  /** Packets longer than the snaplen, kept cut. */
  cut: number;
  /** The interface's counters since the capture started, where the system has them. */
  interfaceCounters: { rxPackets: number; txPackets: number; rxDropped: number; rxMissed: number; rxFifo: number } | null;
  droppedByInterface: number;
  /** Counted by the interface but never delivered to flowaudit (estimated; null with a BPF filter). */
  notDelivered: number | null;
  flowTable: { active: number; limit: number; expired: number; evicted: number; folded: number; foldedRecords: number; foldedOverflow: number };
  write: string | null;
  /** `--export ipfix://HOST:PORT`: what was sent to the collector, or null. */
  export: ExportSection | null;
}

/** What `flowaudit collect` adds to a report. */
export interface CollectSection extends SessionSection {
  /** The listener, `udp:HOST:PORT`. */
  listen: string;
  datagrams: number;
  bytes: number;
  /** Datagrams that were no NetFlow v5, v9 or IPFIX message. */
  garbage: number;
  /** Exporter addresses heard from. */
  exporters: number;
  /** The stitcher: conversations open now, finished so far, finished early at its bound, and the bound. */
  conversations: { open: number; finished: number; evicted: number; limit: number };
}

function fmtRanges(r: Array<[number, number]>): Array<number | string> {
  return r.map(([lo, hi]) => (lo === hi ? lo : `${lo}-${hi}`));
}

/**
 * The site's address space for one capture: the default space, the role map's blocks and site
 * prefixes, `--site`, and which possible broadcasts (x.y.z.255) the capture shows to be hosts: they
 * sent a packet, or they are an end of a TCP flow (TCP is unicast only). A broadcast does neither.
 */
function addressSpaceOf(flows: FlowColumns, map: RoleMap | null, site: AddressBlock[]): AddressSpace {
  const TCP = 6;
  const host = new Uint8Array(flows.hosts.length);
  for (let i = 0; i < flows.n; i++) {
    const tcp = flows.proto[i] === TCP;
    if (tcp || flows.clientPackets[i]! > 0) host[flows.client[i]!] = 1;
    if (tcp || flows.serverPackets[i]! > 0) host[flows.server[i]!] = 1;
  }
  const hosts = new Set<string>();
  for (let h = 0; h < flows.hosts.length; h++) if (host[h] === 1 && flows.hosts[h]!.endsWith('.255')) hosts.add(flows.hosts[h]!);
  return new AddressSpace({
    site: [...(map?.site ?? []), ...site],
    subnets: map ? [...map.given.values()].flat() : [],
    seenAsHost: (addr) => hosts.has(addr),
  });
}

/** Whether a requirement finding rests on roles the user gave, on roles inferred (or read off a port), or on both. */
function rolesFromOf(roles: RoleResolver, finding: RequirementFinding): NonNullable<RequirementFinding['rolesFrom']> {
  const sides = finding.to === null ? [finding.from] : [finding.from, finding.to];
  const given = sides.filter((h) => roles.rolesOf(h).source === 'given').length;
  return given === sides.length ? 'given' : given === 0 ? 'inferred' : 'mixed';
}

/** Flows + grants + catalogs + roles → every finding of the audit, as one plain object. */
export function audit(run: FlowRun | RecordRun | SiteRun, opts: AuditOptions): AuditReport {
  const input = isSiteRun(run) ? siteInput(run) : isRecordRun(run) ? recordInput(run, opts) : packetInput(run, opts, opts.live !== undefined);
  const { flows, capture, quality, grants } = input;
  const roles = new RoleResolver(opts.roleMap, opts.catalogs, addressSpaceOf(flows, opts.roleMap, opts.site ?? []));
  const inference = opts.roleMap === null && opts.infer !== false;
  const ctx = { catalogs: opts.catalogs, roles, grants, captureSeconds: quality.durationSeconds, captureLoss: quality.loss, infer: inference, background: opts.background ?? null, ...(input.grantsObservable ? {} : { grantsObservable: false }), ...(input.rpc !== null ? { rpc: input.rpc } : {}), ...(opts.minSpan !== undefined ? { minSpan: opts.minSpan } : {}) };
  const judged = judgeFlows(flows, ctx);
  // A finding about a host stands on that host's role: given, inferred, or read off a trigger's port.
  // Broadcast, multicast, loopback, unspecified and link-local addresses are never given a guessed
  // role (AddressSpace.mayInfer), so no finding is made about one unless the role map names it.
  // (A negotiation's follow-up rests on what the hosts said, not on their roles: it is always kept.)
  const guessable = (h: string | null) => h === null || roles.space.mayInfer(h) || roles.rolesOf(h).source === 'given';
  const captureEnd = input.last;
  const requirements = [
    ...checkRequirements(judged, ctx, input.first, captureEnd).filter((r) => guessable(r.from) && guessable(r.to)),
    ...checkFollowUps(judged, { ...ctx, failed: input.failed }, captureEnd),
  ];
  for (const r of requirements) {
    r.rolesFrom = rolesFromOf(roles, r);
    // The roles the finding is between, for the matrix: the hosts' own, else what the requirement expects.
    const fromRoles = roles.rolesOf(r.from).roles;
    if (fromRoles.length) r.fromRoles = fromRoles;
    const toRoles = r.to === null ? [] : roles.rolesOf(r.to).roles;
    if (toRoles.length) r.toRoles = toRoles;
    if (r.fromRoles === undefined) r.fromRoles = [];
    if (r.toRoles === undefined) r.toRoles = [];
  }
  const expired = applyWaivers(opts.waivers ?? [], judged, requirements, opts.today ?? new Date().toISOString().slice(0, 10));
  const reqCount = (s: string) => requirements.filter((r) => r.status === s).length;
  const given: Record<string, string[]> = {};
  for (const [role, blocks] of opts.roleMap?.given ?? []) given[role] = blocks.map((b) => b.text);
  const inferred: Record<string, string[]> = {};
  for (const [addr, set] of roles.inferred) for (const role of set) (inferred[role] ??= []).push(addr);
  for (const list of Object.values(inferred)) list.sort();
  return {
    tool: { name: 'flowaudit', version: opts.version },
    catalogs: opts.catalogs.map((c) => ({
      id: c.id,
      name: c.name,
      file: c.file,
      rules: c.rules.length,
      requirements: c.requirements.length,
      params: Object.fromEntries(Object.entries(c.params).map(([k, p]) => [k, fmtRanges(p.value)])),
    })),
    ...(opts.overrides && Object.keys(opts.overrides).length > 0 ? { overrides: opts.overrides } : {}),
    background: opts.background ? { id: opts.background.id, name: opts.background.name, file: opts.background.file, rules: opts.background.rules.length } : null,
    roles: { file: opts.roleMap?.file ?? null, given, inferred, site: [...(opts.roleMap?.site ?? []), ...(opts.site ?? [])].map((b) => b.text), inference },
    capture: { ...capture, quality: { ...quality, inspectors: input.inspectorStats } },
    grants: grants.map((g) => ({
      reason: g.reason,
      kind: g.kind,
      host: g.host,
      transport: g.transport,
      port: g.port,
      peer: g.peer,
      at: formatIso(g.fromSec, g.fromNs, 6),
      detail: g.evidence.detail,
      negotiation: g.negotiation,
      file: g.evidence.file,
      frame: g.evidence.record,
      ...(g.subject ? { subject: g.subject } : {}),
    })),
    flows: judged,
    requirements,
    ...(opts.live ? { live: opts.live } : {}),
    ...(opts.collect ? { collect: opts.collect } : {}),
    waivers: {
      applied: (opts.waivers ?? []).reduce((s, w) => s + w.used, 0),
      expired: expired.map((w) => ({ ...(w.rule ? { rule: w.rule } : {}), ...(w.port ? { port: `${w.port.proto}/${w.port.port}` } : {}), reason: w.reason, ...(w.expires ? { expires: w.expires } : {}), line: w.line })),
    },
    summary: {
      flows: judged.length,
      expected: judged.count('expected'),
      roleMismatch: judged.count('role-mismatch'),
      undocumented: judged.count('undocumented'),
      background: judged.count('background'),
      waived: judged.waivedCount + requirements.filter((r) => r.waived).length,
      requirements: requirements.length,
      satisfied: reqCount('satisfied'),
      missing: reqCount('missing'),
      failing: reqCount('failing'),
      inconclusive: reqCount('inconclusive'),
    },
  };
}

export type FailOn = 'missing' | 'failing' | 'undocumented' | 'role-mismatch';

/** Whether the findings trip --fail-on (waived findings never do). */
export function tripsFailOn(report: AuditReport, failOn: FailOn[]): boolean {
  for (const f of failOn) {
    if ((f === 'missing' || f === 'failing') && report.requirements.some((r) => r.status === f && !r.waived)) return true;
    if ((f === 'undocumented' || f === 'role-mismatch') && report.flows.hasUnwaived(f)) return true;
  }
  return false;
}

export { loadRoleMap, RoleMapError } from './roles.js';
export { loadWaivers } from './waivers.js';
export type { GrantLike, JudgedFlow, RequirementFinding } from './types.js';
export { JudgedFlows } from './judged.js';
