/** Ports as a firewall rule lists them: sorted, neighbours and overlaps merged into ranges. */

/** Ports → ["80", "135", "49152-49160"]: a run of consecutive ports is one range. */
export function portRangesText(ports: Iterable<number>): string[] {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out;
}

/** ICMP types, sorted and distinct. */
export function icmpTypes(types: Iterable<number>): number[] {
  return [...new Set(types)].sort((a, b) => a - b);
}

/** "80" or "49152-49160" → [low, high]. */
export function rangeOf(text: string): [number, number] {
  const [lo, hi] = text.split('-').map(Number);
  return [lo!, hi ?? lo!];
}

/** A rule's ports as a service: "tcp/80,443", "icmp type 8", "gre" when it has none. */
export function serviceText(protocol: string, ports: readonly string[], icmp: readonly number[]): string {
  if (ports.length > 0) return `${protocol}/${ports.join(',')}`;
  return icmp.length > 0 ? `${protocol} type ${icmp.join(',')}` : protocol;
}
