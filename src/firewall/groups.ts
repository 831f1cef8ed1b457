/**
 * The address groups a firewall rule is written between: a role of the role map (the map's blocks,
 * the hosts inferred to play it, and every host seen in it), a zone of the zones file (its blocks,
 * its roles' addresses and the hosts placed in it), or one address for a host that has neither.
 */
import { type AddressBlock, addressToBigInt, BlockIndex, parseBlock } from '../audit/addresses.js';
import type { AddressGroup } from './types.js';
import { ZoneMap, zoneOf } from './zones.js';

/** A host with no zone when a zones file is given. */
export const UNZONED = 'unzoned';

export class GroupBook {
  private readonly used = new Map<string, { kind: AddressGroup['kind']; blocks: Set<string>; hosts: Set<string> }>();

  constructor(
    /** The role map's blocks and the inferred hosts, by role (the audit report's `roles.given` and `roles.inferred`). */
    private readonly roleAddresses: Record<string, string[]>,
    private readonly zones: ZoneMap | null,
  ) {}

  /**
   * The group of a host seen playing `role` (null: none fits), whose roles are `roles`; `address` null
   * for a side no host was seen on (a required flow to "its parent").
   */
  groupOf(address: string | null, role: string | null, roles: readonly string[]): string | null {
    if (this.zones) {
      const zone = zoneOf(this.zones, address, role === null ? roles : [role, ...roles]);
      const name = zone?.id ?? UNZONED;
      const g = this.entry(name, 'zone', () => (zone ? [...zone.blocks.map((b) => b.text), ...zone.roles.flatMap((r) => this.roleAddresses[r] ?? [])] : []));
      if (address !== null) g.hosts.add(address);
      return address === null && zone === null ? null : name;
    }
    if (role !== null) {
      const g = this.entry(role, 'role', () => this.roleAddresses[role] ?? []);
      if (address !== null) g.hosts.add(address);
      return role;
    }
    if (address === null) return null;
    this.entry(address, 'host', () => []).hosts.add(address);
    return address;
  }

  /** Every group a rule named, by name, each with its addresses: blocks first, then the hosts no block holds. */
  groups(): AddressGroup[] {
    return [...this.used.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([name, g]) => {
        const all = [...g.blocks].map((t) => parseBlock(t)).filter((b): b is AddressBlock => b !== null);
        const index = new BlockIndex();
        all.forEach((b, i) => index.add(b, i));
        // A block inside another of the group (or equal to an earlier one) is not listed again: an
        // interval set refuses overlaps. Found by the index, so a role of a million hosts costs a look-up each.
        const within = (a: { family: 4 | 6; value: bigint }, self: number, prefix: number) => {
          let inside = false;
          index.forEach(a, (other, len) => {
            if (other !== self && (len < prefix || (len === prefix && other < self))) inside = true;
          });
          return inside;
        };
        const blocks = all.filter((b, i) => !within({ family: b.family, value: b.lo }, i, b.prefix));
        const loose = [...g.hosts].filter((h) => {
          const a = addressToBigInt(h);
          return a !== null && !within(a, -1, Infinity);
        });
        return { name, kind: g.kind, addresses: [...blocks.map((b) => b.text), ...loose.sort(compareAddresses)] };
      });
  }

  /** The group of this name; a new one starts with `blocks()` (its addresses are the same at every flow, so they are added once). */
  private entry(name: string, kind: AddressGroup['kind'], blocks: () => string[]) {
    let g = this.used.get(name);
    if (!g) this.used.set(name, (g = { kind, blocks: new Set(blocks()), hosts: new Set() }));
    return g;
  }
}

/** Addresses in numeric order (IPv4 before IPv6). */
export function compareAddresses(a: string, b: string): number {
  const x = addressToBigInt(a);
  const xf = x?.family ?? 9;
  const xv = x?.value ?? 0n;
  const y = addressToBigInt(b);
  if (!y) return -1;
  if (xf !== y.family) return xf - y.family;
  return xv < y.value ? -1 : xv > y.value ? 1 : 0;
}
