/**
 * The packets of a flow, or of a finding over several flows, as a tshark display filter and a BPF
 * expression (tcpdump, Wireshark's capture filter): one place for how flowaudit names packets to the
 * tools a person opens next. A flow is its address pair, its protocol and its port pair, as its key
 * has them; with --vlan-key, its VLAN too.
 *
 *   ip.addr==10.0.0.1 && ip.addr==10.0.0.2 && tcp.port==50000 && tcp.port==1610 && !icmp
 *   host 10.0.0.1 and host 10.0.0.2 and tcp port 50000 and tcp port 1610
 *
 * tshark dissects the packet an ICMP error quotes, so a TCP or UDP flow's filter leaves ICMP out (the
 * error is counted on the flow it quotes, as icmpErrors, not as one of its packets), and an ICMP
 * flow's leaves out the errors that quote a TCP or UDP packet (those went to the flow they quote). A BPF expression reads the outermost headers only: a tunnelled
 * flow has none (null), and a flow whose packets were VLAN-tagged is matched behind the tag.
 */
import type { FlowRecord } from './record.js';

/** What a filter needs of a flow. */
export type FilterFlow = Pick<FlowRecord, 'protoNumber' | 'ipVersion' | 'client' | 'clientPort' | 'server' | 'serverPort'> &
  Partial<Pick<FlowRecord, 'vlan' | 'vlanAsymmetric' | 'tunnel'>>;

export interface FilterOptions {
  /** The flow key holds the VLAN (--vlan-key): the filter names it. */
  vlanInKey?: boolean;
  /** The packets of a folded record of flows from many client ports: the server port only. */
  anyClientPort?: boolean;
}

/** The tshark display filter that selects exactly the flow's packets. */
export function displayFilter(f: FilterFlow, opts: FilterOptions = {}): string {
  const ip = f.ipVersion === 6 ? 'ipv6' : 'ip';
  const parts = f.client === f.server ? [`${ip}.src==${f.client}`, `${ip}.dst==${f.server}`] : [`${ip}.addr==${f.client}`, `${ip}.addr==${f.server}`];
  const l4 = transportName(f.protoNumber);
  if (l4 !== null && f.clientPort !== null && f.serverPort !== null) {
    if (opts.anyClientPort) parts.push(`${l4}.port==${f.serverPort}`);
    else parts.push(...(f.clientPort === f.serverPort ? [`${l4}.srcport==${f.clientPort}`, `${l4}.dstport==${f.serverPort}`] : [`${l4}.port==${f.clientPort}`, `${l4}.port==${f.serverPort}`]));
    parts.push(f.ipVersion === 6 ? '!icmpv6' : '!icmp');
  } else if (f.protoNumber === 1) parts.push('icmp && !(icmp.type in {3, 11, 12} && (tcp || udp))');
  else if (f.protoNumber === 58) parts.push('icmpv6 && !(icmpv6.type in {1, 2, 3, 4} && (tcp || udp))');
  else if (l4 !== null) parts.push(l4);
  else parts.push(f.ipVersion === 6 ? `ipv6.nxt==${f.protoNumber}` : `ip.proto==${f.protoNumber}`);
  if (opts.vlanInKey && f.vlan !== undefined) parts.push(`vlan.id==${f.vlan}`);
  return parts.join(' && ');
}

/** The BPF expression that selects the flow's packets, or null for a tunnelled flow (BPF sees only the outer headers). */
export function bpfFilter(f: FilterFlow): string | null {
  if (f.tunnel !== undefined && f.tunnel.length > 0) return null;
  const parts = [`host ${f.client}`, `host ${f.server}`];
  const l4 = transportName(f.protoNumber);
  if (l4 !== null && f.clientPort !== null && f.serverPort !== null) parts.push(`${l4} port ${f.clientPort}`, `${l4} port ${f.serverPort}`);
  else if (f.protoNumber === 1) parts.push('icmp');
  else if (f.protoNumber === 58) parts.push('icmp6');
  else parts.push(f.ipVersion === 6 ? `ip6 proto ${f.protoNumber}` : `ip proto ${f.protoNumber}`);
  const plain = parts.join(' and ');
  // BPF reads offsets behind a tag only after `vlan`; a flow tagged one way only needs both.
  if (f.vlan === undefined) return plain;
  const tagged = `vlan ${f.vlan} and ${plain}`;
  return f.vlanAsymmetric ? `(${plain}) or (${tagged})` : tagged;
}

/** Most flows a finding's filter names one by one; past it the filter names the hosts and ports. */
export const MAX_FILTER_FLOWS = 16;

/**
 * The filters of a finding over several flows: the `||` (`or`) of its flows' filters, or, past
 * MAX_FILTER_FLOWS flows or with none, what `fallback` names (the hosts and ports of the finding).
 */
export function findingFilters(flows: readonly FilterFlow[], fallback: FindingScope, opts: FilterOptions = {}): { filter: string; bpf: string | null } {
  if (flows.length > 0 && flows.length <= MAX_FILTER_FLOWS) {
    const shown = [...new Set(flows.map((f) => displayFilter(f, opts)))];
    const bpfs = flows.map(bpfFilter);
    const bpf = bpfs.some((b) => b === null) ? null : [...new Set(bpfs as string[])];
    return {
      filter: shown.length === 1 ? shown[0]! : shown.map((s) => `(${s})`).join(' || '),
      bpf: bpf === null ? null : bpf.length === 1 ? bpf[0]! : bpf.map((s) => `(${s})`).join(' or '),
    };
  }
  return scopeFilters(fallback);
}

/** A finding's hosts and service where no flow shows it: `from` (and `to`), the protocol and server ports. */
export interface FindingScope {
  from: string;
  to: string | null;
  proto: string;
  /** Numeric ports; other port specs (ranges, `dynamic-rpc`) are left out of the filter. */
  ports: ReadonlyArray<number | string>;
}

/** The filters of a finding's scope: its hosts, and its protocol on any of its numeric ports. */
export function scopeFilters(s: FindingScope): { filter: string; bpf: string | null } {
  const v6 = (a: string) => a.includes(':');
  const host = (a: string) => `${v6(a) ? 'ipv6' : 'ip'}.addr==${a}`;
  const parts = [host(s.from)];
  const bpf = [`host ${s.from}`];
  if (s.to !== null) {
    parts.push(host(s.to));
    bpf.push(`host ${s.to}`);
  }
  const ports = s.ports.filter((p): p is number => typeof p === 'number');
  const l4 = s.proto === 'tcp' || s.proto === 'udp' ? s.proto : null;
  if (l4 !== null && ports.length > 0) {
    parts.push(ports.length === 1 ? `${l4}.port==${ports[0]}` : `(${ports.map((p) => `${l4}.port==${p}`).join(' || ')})`);
    bpf.push(ports.length === 1 ? `${l4} port ${ports[0]}` : `(${ports.map((p) => `${l4} port ${p}`).join(' or ')})`);
  } else if (l4 !== null) {
    parts.push(l4);
    bpf.push(l4);
  }
  return { filter: parts.join(' && '), bpf: bpf.join(' and ') };
}

function transportName(proto: number): 'tcp' | 'udp' | 'sctp' | null {
  return proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 132 ? 'sctp' : null;
}
