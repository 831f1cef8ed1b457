/**
 * From an audit to a firewall's allow-list, as a pure function of the audit report and the catalogs:
 * the rules that let every `expected` flow and every required flow pass, one per source group,
 * destination group, protocol and catalog rule, with the ports the site used (merged into ranges)
 * beside the ones the vendor documents; background traffic apart; and the diff against the catalog
 * (required flows missing or failing first, documented rules never used, undocumented flows).
 */
import type { AuditReport } from '../audit/index.js';
import type { RequirementFinding } from '../audit/types.js';
import { type Catalog, displayPorts, playedRoles, type Rule } from '../catalog/types.js';
import { compareAddresses, GroupBook } from './groups.js';
import type { AllowList, AllowRule, BlockedRequirement, DynamicPorts, ReviewFlow, UnusedRule } from './types.js';
import type { ZoneMap } from './zones.js';
import { icmpTypes, portRangesText } from './ports.js';

export interface AllowListInputs {
  /** The product catalogs the audit ran with, then the background catalog (null: none). */
  catalogs: Catalog[];
  background: Catalog | null;
  zones: ZoneMap | null;
  /** What a dynamic rule opens: the ports the capture saw granted (default), or the documented range where there is one. */
  dynamic?: 'granted' | 'range';
}

/** One rule being built: its ports and hosts as sets until the list is made. */
interface Draft {
  rule: AllowRule;
  ports: Set<number>;
  icmp: Set<number>;
  sources: Set<string>;
  destinations: Set<string>;
  first: number;
  last: number;
}

const UNANSWERED = new Set(['attempted', 'rejected']);

/** The allow-list of an audit. */
export function allowList(report: AuditReport, inputs: AllowListInputs): AllowList {
  const rules = new Map<string, Rule>();
  for (const c of [...inputs.catalogs, ...(inputs.background ? [inputs.background] : [])]) for (const r of c.rules) rules.set(`${r.catalog}:${r.id}`, r);
  const played = playedRoles(inputs.catalogs);
  const roleAddresses: Record<string, string[]> = {};
  for (const [role, list] of [...Object.entries(report.roles.given), ...Object.entries(report.roles.inferred)]) (roleAddresses[role] ??= []).push(...list);
  const book = new GroupBook(roleAddresses, inputs.zones);
  const product = new Map<string, Draft>();
  const background = new Map<string, Draft>();
  const review = new Map<string, ReviewFlow & { s: Set<string>; d: Set<string>; f: number; l: number }>();
  const used = new Set<string>();

  const flows = report.flows;
  const hosts = flows.columns.hosts;
  for (let i = 0; i < flows.length; i++) {
    const j = flows.judgement(i);
    // A rule is used by the flows it makes expected (or background); a role mismatch uses none.
    if (j.verdict === 'expected' || j.verdict === 'background') {
      for (const m of j.matches) used.add(m);
      if (j.rule) used.add(j.rule);
    }
    const client = hosts[flows.client(i)]!;
    const server = hosts[flows.server(i)]!;
    const proto = flows.proto(i);
    const port = flows.serverPort(i);
    const f = flows.at(i)!;
    const first = f.start === null ? NaN : Date.parse(f.start);
    const last = f.end === null ? NaN : Date.parse(f.end);
    // A record folded past --max-flows (or by live) stands for its flows.
    const folded = (f as { flows?: unknown }).flows;
    const n = typeof folded === 'number' ? folded : 1;
    if (j.verdict === 'expected' || j.verdict === 'background') {
      const rule = j.rule === null ? undefined : rules.get(j.rule);
      const src = book.groupOf(client, pickRole(j.clientRoles, sideOf(rule, 'from'), played), j.clientRoles)!;
      const dst = book.groupOf(server, pickRole(j.serverRoles, sideOf(rule, 'to'), played), j.serverRoles)!;
      const d = draft(j.verdict === 'expected' ? product : background, src, dst, proto, j.rule ?? '', rule, j.cite);
      d.rule.flows += n;
      if (f.outcome !== undefined && f.outcome !== null && UNANSWERED.has(f.outcome)) d.rule.unanswered += n;
      if (port !== null) d.ports.add(port);
      if (f.icmpType !== undefined) d.icmp.add(f.icmpType);
      d.sources.add(client);
      d.destinations.add(server);
      seen(d, first, last);
      if (d.rule.basis === 'required') d.rule.basis = 'both';
    } else {
      const src = book.groupOf(client, j.clientRoles[0] ?? null, j.clientRoles)!;
      const dst = book.groupOf(server, j.serverRoles[0] ?? null, j.serverRoles)!;
      const w = flows.waiver(i);
      const key = `${j.verdict}|${src}|${dst}|${proto}|${port}|${w?.reason ?? ''}`;
      let r = review.get(key);
      if (!r) {
        r = { verdict: j.verdict, source: src, destination: dst, protocol: proto, port, rule: j.verdict === 'role-mismatch' ? j.rule : null, flows: 0, sourceHosts: [], destinationHosts: [], firstSeen: null, lastSeen: null, detail: j.detail, waived: w?.reason ?? null, s: new Set(), d: new Set(), f: Infinity, l: -Infinity };
        review.set(key, r);
      }
      r.flows += n;
      r.s.add(client);
      r.d.add(server);
      if (first < r.f) r.f = first;
      if (last > r.l) r.l = last;
    }
  }

  // Required flows that were missing or failing: the firewall must let them pass too, and they head the diff.
  const blocked: BlockedRequirement[] = [];
  for (const finding of report.requirements) {
    if ((finding.status !== 'missing' && finding.status !== 'failing') || finding.waived) continue;
    const wanted = requiredFlow(finding, inputs.catalogs, rules, product, book, played);
    let allowedBy: string | null = null;
    if (wanted) {
      const d = draft(product, wanted.src, wanted.dst, wanted.proto, wanted.ruleId, wanted.rule, wanted.rule.cite);
      for (const p of wanted.ports) d.ports.add(p);
      if (d.rule.flows === 0) d.rule.basis = 'required';
      else if (d.rule.basis === 'observed') d.rule.basis = 'both';
      if (!d.rule.requiredBy.includes(finding.rule)) d.rule.requiredBy.push(finding.rule);
      allowedBy = d.rule.id;
    }
    blocked.push({
      rule: finding.rule,
      status: finding.status,
      from: finding.from,
      to: finding.to,
      fromRoles: finding.fromRoles ?? [],
      toRoles: finding.toRoles ?? [],
      proto: finding.proto,
      ports: finding.ports,
      detail: finding.detail,
      allowedBy,
    });
  }

  const rolesOnSite = new Set<string>();
  for (const role of Object.keys(roleAddresses)) for (const r of [role, ...(played.get(role) ?? [])]) rolesOnSite.add(r);
  for (const d of product.values()) used.add(d.rule.rule);
  const unused: UnusedRule[] = [];
  for (const c of inputs.catalogs) {
    const classes = new Set(c.roles.filter((r) => r.address !== undefined).map((r) => r.id));
    const onSite = (side: string[]) => side.some((r) => rolesOnSite.has(r) || classes.has(r));
    for (const r of c.rules) {
      const id = `${r.catalog}:${r.id}`;
      if (used.has(id)) continue;
      unused.push({ rule: id, from: r.from, to: r.to, transport: r.transport, ports: displayPorts(r), required: r.required, service: r.service, rolesOnSite: onSite(r.from) && onSite(r.to) });
    }
  }

  const finish = (d: Draft): AllowRule => {
    const rule = d.rule;
    rule.ports = portRangesText(d.ports);
    rule.icmpTypes = icmpTypes(d.icmp);
    rule.sourceHosts = [...d.sources].sort(compareAddresses);
    rule.destinationHosts = [...d.destinations].sort(compareAddresses);
    rule.firstSeen = Number.isFinite(d.first) ? new Date(d.first).toISOString() : null;
    rule.lastSeen = Number.isFinite(d.last) ? new Date(d.last).toISOString() : null;
    const r = rules.get(rule.rule);
    if (r?.dynamic) {
      rule.dynamic = dynamicPorts(r, report, d, inputs.dynamic ?? 'granted');
      // The documented range replaces the granted ports inside it; a fixed port of the rule stays.
      const range = r.dynamic.range;
      if (rule.dynamic.opened === 'range' && range) rule.ports = portRangesText([...d.ports].filter((p) => p < range[0] || p > range[1])).concat(`${range[0]}-${range[1]}`);
    }
    return rule;
  };
  const order = (a: AllowRule, b: AllowRule) => (a.source < b.source ? -1 : a.source > b.source ? 1 : a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : a.id < b.id ? -1 : 1);
  const allowRules = [...product.values()].map(finish).sort(order);
  const backgroundRules = [...background.values()].map(finish).sort(order);
  const reviewFlows = [...review.values()]
    .map(({ s, d, f, l, ...r }) => ({ ...r, sourceHosts: [...s].sort(compareAddresses), destinationHosts: [...d].sort(compareAddresses), firstSeen: Number.isFinite(f) ? new Date(f).toISOString() : null, lastSeen: Number.isFinite(l) ? new Date(l).toISOString() : null }))
    .sort((a, b) => b.flows - a.flows || (a.source < b.source ? -1 : 1));
  // Failing before missing: an attempt the network stopped is the firewall's most likely doing.
  blocked.sort((a, b) => (a.status === b.status ? 0 : a.status === 'failing' ? -1 : 1));
  const capture = report.capture;
  return {
    tool: { name: 'flowaudit', version: report.tool.version, command: 'firewall' },
    catalogs: inputs.catalogs.map((c) => ({ id: c.id, name: c.name })),
    roles: report.roles.file,
    zones: inputs.zones?.file ?? null,
    capture: { files: capture.files.map((f) => f.file), first: capture.first, last: capture.last, spanSeconds: Number.isFinite(capture.quality.durationSeconds) ? capture.quality.durationSeconds : null },
    groups: book.groups(),
    rules: allowRules,
    background: backgroundRules,
    diff: { blocked, unused, review: reviewFlows },
    baseline: null,
    summary: { rules: allowRules.length, background: backgroundRules.length, blocked: blocked.length, unused: unused.length, review: reviewFlows.length, dynamic: [...allowRules, ...backgroundRules].filter((r) => r.dynamic !== null).length },
  };
}

/** The rule of `map` for a group pair, protocol and catalog rule, made empty when it is new. */
function draft(map: Map<string, Draft>, src: string, dst: string, proto: string, ruleId: string, rule: Rule | undefined, cite: AllowRule['cite']): Draft {
  const id = `${src}>${dst}:${proto}:${ruleId}`;
  let d = map.get(id);
  if (!d) {
    d = {
      rule: { id, source: src, destination: dst, protocol: proto, direction: rule?.direction ?? 'one-way', ports: [], icmpTypes: [], rule: ruleId, service: rule?.service ?? '', documentedPorts: rule ? documentedPorts(rule) : [], cite, basis: 'observed', flows: 0, unanswered: 0, sourceHosts: [], destinationHosts: [], firstSeen: null, lastSeen: null, requiredBy: [], dynamic: null },
      ports: new Set(),
      icmp: new Set(),
      sources: new Set(),
      destinations: new Set(),
      first: Infinity,
      last: -Infinity,
    };
    map.set(id, d);
  }
  return d;
}

/** A rule's documented ports, or its ICMP type. */
function documentedPorts(rule: Rule): Array<number | string> {
  return rule.icmp ? [`type ${rule.icmp.type}${rule.icmp.code === undefined ? '' : ` code ${rule.icmp.code}`}`] : displayPorts(rule);
}

function seen(d: Draft, first: number, last: number): void {
  if (first < d.first) d.first = first;
  if (last > d.last) d.last = last;
}

/** The roles a rule lets open its flows (`from`) or listen (`to`): both sides' for a rule either side may open. */
function sideOf(rule: Rule | undefined, side: 'from' | 'to'): string[] | undefined {
  if (rule === undefined) return undefined;
  return rule.direction === 'either' ? [...rule[side], ...rule[side === 'from' ? 'to' : 'from']] : rule[side];
}

/**
 * The role a host plays for a rule side: the first of its roles (its own before those it acts as)
 * that the side names, directly or through acts-as; null when the side names only address classes
 * (broadcast, any) or none of the host's roles.
 */
function pickRole(roles: readonly string[], side: readonly string[] | undefined, played: Map<string, string[]>): string | null {
  if (side === undefined) return roles[0] ?? null;
  for (const r of roles) if (side.includes(r) || (played.get(r) ?? []).some((x) => side.includes(x))) return r;
  return null;
}

/**
 * The flow a missing or failing required finding asks for: a negotiation's follow-up is the granted
 * port on the rule that documents it; a catalog requirement is its first alternative that the list
 * already holds for the same pair, else its first alternative (a `reverse` one runs from the
 * trigger's server to its client).
 */
function requiredFlow(finding: RequirementFinding, catalogs: Catalog[], rules: Map<string, Rule>, product: Map<string, Draft>, book: GroupBook, played: Map<string, string[]>): { src: string; dst: string; proto: string; ruleId: string; rule: Rule; ports: number[] } | null {
  const fromRoles = finding.fromRoles ?? [];
  const toRoles = finding.toRoles ?? [];
  if (finding.followUp) {
    const ruleId = finding.followUp.documentedBy;
    const rule = ruleId === null ? undefined : rules.get(ruleId);
    if (!rule || finding.to === null) return null;
    const src = book.groupOf(finding.from, pickRole(fromRoles, sideOf(rule, 'from'), played), fromRoles);
    const dst = book.groupOf(finding.to, pickRole(toRoles, sideOf(rule, 'to'), played), toRoles);
    if (src === null || dst === null) return null;
    return { src, dst, proto: finding.proto, ruleId: ruleId!, rule, ports: finding.ports.filter((p): p is number => typeof p === 'number') };
  }
  const [cat, ...rest] = finding.rule.split(':');
  const req = catalogs.flatMap((c) => c.requirements).find((r) => r.catalog === cat && r.id === rest.join(':'));
  if (!req) return null;
  const options = req.expect.flatMap((e) => {
    if (!('rule' in e)) return [];
    const rule = rules.get(`${req.catalog}:${e.rule}`) ?? rules.get(e.rule);
    if (!rule) return [];
    const forward = { host: finding.from, roles: fromRoles };
    const back = { host: finding.to, roles: toRoles };
    const [s, d] = e.reverse ? [back, forward] : [forward, back];
    const src = book.groupOf(s.host, pickRole(s.roles, sideOf(rule, 'from'), played), s.roles);
    const dstRole = pickRole(d.roles, sideOf(rule, 'to'), played);
    const dst = book.groupOf(d.host, dstRole, d.roles);
    if (src === null || dst === null) return [];
    const proto = rule.transport[0]!;
    const ruleId = `${rule.catalog}:${rule.id}`;
    const ports: number[] = [];
    for (const [lo, hi] of rule.ranges) if (hi - lo < 1024) for (let p = lo; p <= hi; p++) ports.push(p);
    return [{ src, dst, proto, ruleId, rule, ports, held: product.has(`${src}>${dst}:${proto}:${ruleId}`) }];
  });
  const pick = options.find((o) => o.held) ?? options[0];
  return pick ?? null;
}

/** The granted ports of a dynamic rule beside its documented range, with the two honest choices. */
function dynamicPorts(rule: Rule, report: AuditReport, d: Draft, open: 'granted' | 'range'): DynamicPorts {
  const granted = new Set<number>();
  for (const g of report.grants) if (g.kind === rule.dynamic!.kind && g.port !== null && d.destinations.has(g.host) && d.sources.has(g.peer)) granted.add(g.port);
  for (const p of d.ports) granted.add(p);
  const range = rule.dynamic!.range;
  const documented = range ? `${range[0]}-${range[1]}` : null;
  const proto = rule.transport[0] ?? 'tcp';
  const helper =
    rule.dynamic!.kind === 'dcerpc'
      ? 'an RPC-aware firewall helper that reads the endpoint-mapper answer on tcp/135 and opens only the port it names (nftables has none: a firewall with DCE/RPC inspection)'
      : rule.dynamic!.kind === 'sql-named-instance'
        ? 'a fixed port set on the SQL Server instance (SQL Server Configuration Manager), then only that port'
        : rule.dynamic!.kind === 'tftp-transfer'
          ? "the TFTP conntrack helper (nf_conntrack_tftp), which opens the transfer's port from the request"
          : 'a fixed port configured on the server, then only that port';
  return {
    kind: rule.dynamic!.kind,
    documented,
    granted: [...granted].sort((a, b) => a - b),
    choices: [documented ? `the documented range ${proto}/${documented}, as the vendor writes it` : 'no documented range: the ports are whatever the server picks', helper],
    opened: open === 'range' && documented !== null ? 'range' : 'granted',
  };
}
