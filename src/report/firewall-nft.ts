/**
 * `flowaudit firewall --format nft`: the allow-list as an nftables rule set for a router between the
 * groups (`nft -f FILE`). One table `inet flowaudit`, replaced whole on every load; a named set per
 * group and address family (intervals, so role-map blocks stay blocks); one chain per group pair
 * holding its rules, each with a counter and the catalog rule as its comment; the forward chain
 * accepts replies by connection tracking, jumps to a pair's chain by source and destination set, and
 * drops everything else through the named counter `default_drop` (policy drop behind it).
 *
 * Dynamic ports (DCE/RPC): the rule opens the ports the capture saw granted, and the two honest
 * choices are written beside it as comments: the documented range, or an RPC-aware firewall. The
 * granted ports change when the service restarts; the range is never opened silently.
 */
import type { Writable } from 'node:stream';
import { addressToBigInt } from '../audit/addresses.js';
import { humanDuration } from '../core/human.js';
import type { AddressGroup, AllowList, AllowRule } from '../firewall/types.js';
import { writePieces } from './write.js';

export const NFT_TABLE = 'flowaudit';
export const NFT_DROP_COUNTER = 'default_drop';

/** Text for an nft comment or a `#` line: printable ASCII without quotes, at most `max` characters. */
function plain(s: string, max = 120): string {
  const t = s.replace(/→/g, '->').replace(/[“”"]/g, "'").replace(/[^\x20-\x7e]/g, '?');
  return t.length > max ? `${t.slice(0, max - 1)}~` : t;
}

/** Group names as nft identifiers: letters, digits and _, unique. */
function identifiers(groups: AddressGroup[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<string>();
  for (const g of groups) {
    let id = `g_${g.name.replace(/[^A-Za-z0-9]/g, '_')}`;
    while (taken.has(id)) id += '_';
    taken.add(id);
    out.set(g.name, id);
  }
  return out;
}

function familyOf(address: string): 4 | 6 {
  return addressToBigInt(address.split('/')[0]!)?.family ?? 4;
}

/** What a rule matches after the pair's addresses: protocol and ports or ICMP types. */
function matchOf(r: AllowRule): string {
  const set = (items: Array<string | number>) => (items.length === 1 ? String(items[0]) : `{ ${items.join(', ')} }`);
  if ((r.protocol === 'tcp' || r.protocol === 'udp') && r.ports.length > 0) return `${r.protocol} dport ${set(r.ports)}`;
  if (r.protocol === 'icmp' || r.protocol === 'icmpv6') return r.icmpTypes.length > 0 ? `${r.protocol} type ${set(r.icmpTypes)}` : `meta l4proto ${r.protocol === 'icmp' ? 'icmp' : 'ipv6-icmp'}`;
  return `meta l4proto ${r.protocol}`;
}

function ruleLines(r: AllowRule): string[] {
  const out: string[] = [];
  const what = plain(`${r.rule}${r.service ? ` ${r.service}` : ''}`, 110);
  if (r.dynamic?.opened === 'range') {
    const d = r.dynamic;
    out.push(`\t\t# ${plain(`${r.rule}: the documented range ${d.documented}, as asked (--dynamic range); the capture saw ${d.granted.join(',') || 'none'} granted.`, 200)}`);
    out.push(`\t\t# ${plain(`the other choice: ${d.choices[1]}`, 200)}`);
  } else if (r.dynamic) {
    const d = r.dynamic;
    out.push(`\t\t# ${plain(`${r.rule}: ${d.kind} ports granted at run time; the capture saw ${d.granted.join(',') || 'none'}${d.documented ? `, the vendor documents ${d.documented}` : ''}.`, 200)}`);
    out.push('\t\t# They change when the service restarts: choose one of');
    if (d.documented) out.push(`\t\t#   ${r.protocol} dport ${d.documented} counter accept comment "${plain(`${r.rule} documented range`)}"`);
    d.choices.forEach((c, i) => out.push(`\t\t#   ${i + 1}. ${plain(c, 200)}`));
    out.push('\t\t# and until then the ports seen:');
  }
  if ((r.protocol !== 'tcp' && r.protocol !== 'udp') || r.ports.length > 0) out.push(`\t\t${matchOf(r)} counter accept comment "${what}"`);
  else out.push(`\t\t# ${plain(`${r.rule}: no port seen or documented; nothing opened`)}`);
  return out;
}

/** The rule set of an allow-list. */
export function firewallNft(list: AllowList): string {
  const ids = identifiers(list.groups);
  const lines: string[] = [];
  const span = list.capture.spanSeconds === null ? 'unknown span' : humanDuration(list.capture.spanSeconds);
  lines.push('#!/usr/sbin/nft -f');
  lines.push(`# flowaudit firewall: ${plain(list.capture.files.join(' '), 200)}`);
  lines.push(`# capture ${list.capture.first ?? '-'} ... ${list.capture.last ?? '-'} (${span}); catalogs ${list.catalogs.map((c) => c.id).join(', ')}`);
  lines.push(`# ${list.rules.length} product rules, ${list.background.length} background rules; ${list.diff.review.length} groups of observed flows left out for review`);
  lines.push('# Forwarded traffic between these groups is dropped unless a rule below allows it (counter default_drop).');
  lines.push(`table inet ${NFT_TABLE}`);
  lines.push(`delete table inet ${NFT_TABLE}`);
  lines.push('');
  lines.push(`table inet ${NFT_TABLE} {`);
  lines.push(`\tcounter ${NFT_DROP_COUNTER} {`);
  lines.push('\t}');
  const families = new Map<string, Set<4 | 6>>();
  for (const g of list.groups) {
    const id = ids.get(g.name)!;
    const fam = new Set<4 | 6>();
    for (const f of [4, 6] as const) {
      const elements = g.addresses.filter((a) => familyOf(a) === f);
      if (elements.length === 0) continue;
      fam.add(f);
      lines.push(`\tset ${id}_v${f} {`);
      lines.push(`\t\ttype ${f === 4 ? 'ipv4_addr' : 'ipv6_addr'}`);
      lines.push('\t\tflags interval');
      lines.push('\t\tauto-merge');
      lines.push(`\t\tcomment "${plain(`${g.kind} ${g.name}`)}"`);
      lines.push(`\t\telements = { ${elements.join(', ')} }`);
      lines.push('\t}');
    }
    families.set(g.name, fam);
  }
  const pairs = new Map<string, { src: string; dst: string; rules: AllowRule[] }>();
  for (const r of [...list.rules, ...list.background]) {
    const key = `${r.source}\u0000${r.destination}`;
    let p = pairs.get(key);
    if (!p) pairs.set(key, (p = { src: r.source, dst: r.destination, rules: [] }));
    p.rules.push(r);
  }
  const jumps: string[] = [];
  for (const p of pairs.values()) {
    const chain = `${ids.get(p.src)}_to_${ids.get(p.dst)!.slice(2)}`;
    lines.push(`\tchain ${chain} {`);
    lines.push(`\t\tcomment "${plain(`${p.src} -> ${p.dst}`)}"`);
    for (const r of p.rules) lines.push(...ruleLines(r));
    lines.push('\t}');
    for (const f of [4, 6] as const) {
      if (!families.get(p.src)?.has(f) || !families.get(p.dst)?.has(f)) continue;
      const ip = f === 4 ? 'ip' : 'ip6';
      jumps.push(`\t\t${ip} saddr @${ids.get(p.src)}_v${f} ${ip} daddr @${ids.get(p.dst)}_v${f} jump ${chain}`);
    }
  }
  lines.push('\tchain forward {');
  lines.push('\t\ttype filter hook forward priority filter; policy drop;');
  lines.push('\t\tct state established,related accept');
  lines.push(...jumps);
  lines.push(`\t\tcounter name ${NFT_DROP_COUNTER} drop comment "flowaudit: default drop"`);
  lines.push('\t}');
  lines.push('}');
  return lines.join('\n') + '\n';
}

export function writeFirewallNft(list: AllowList, out: Writable): Promise<void> {
  return writePieces([firewallNft(list)], out);
}
