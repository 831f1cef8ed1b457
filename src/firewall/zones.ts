/**
 * The zones file of `flowaudit firewall --zones`: which firewall zone each role or address block is
 * in, so the allow-list is written per zone pair instead of per role pair.
 *
 *   zones:
 *     servers: [site-server, management-point, 10.1.0.0/24]
 *     clients: [client, 10.2.0.0/16]
 *
 * An item is an address or CIDR block, or a role id of the run's catalogs. Every mistake is one line
 * `file:line:col: …` through the project's YAML reader.
 */
import { AddressBlock, addressToBigInt, inBlock, parseBlock } from '../audit/addresses.js';
import type { Catalog } from '../catalog/types.js';
import { LocatedInputError, quoted, someOf } from '../core/errors.js';
import { problemText, readYamlFile } from '../core/yaml-file.js';

export class ZoneFileError extends LocatedInputError {}

export interface Zone {
  id: string;
  roles: string[];
  blocks: AddressBlock[];
}

export interface ZoneMap {
  file: string;
  zones: Zone[];
}

const ZONE_ID = /^[a-z0-9][a-z0-9_-]*$/i;

/** Reads and checks a zones file against the roles of the run's catalogs. */
export function loadZones(file: string, catalogs: Catalog[]): ZoneMap {
  const yaml = readYamlFile(file, 'zones file');
  const raw = yaml.toJS() as unknown;
  const fail = (path: Array<string | number>, message: string) => new ZoneFileError(problemText([yaml.problemAt(path, message)]));
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail([], 'a zones file is a mapping with one key, "zones"');
  for (const key of Object.keys(raw)) if (key !== 'zones') throw fail([key], `unknown key ${quoted(key)} (a zones file has "zones")`);
  const zones = (raw as { zones?: unknown }).zones;
  if (typeof zones !== 'object' || zones === null || Array.isArray(zones)) throw fail(['zones'], 'zones: a mapping of zone ids to lists of roles and address blocks');
  const roleIds = new Set(catalogs.flatMap((c) => c.roles.map((r) => r.id)));
  const out: Zone[] = [];
  for (const [id, items] of Object.entries(zones)) {
    if (!ZONE_ID.test(id)) throw fail(['zones', id], `zones: ${quoted(id)} is not a zone id (letters, digits, - and _)`);
    if (!Array.isArray(items) || items.length === 0) throw fail(['zones', id], `zones.${id}: a list of roles and address blocks, at least one`);
    const zone: Zone = { id, roles: [], blocks: [] };
    items.forEach((item: unknown, i: number) => {
      if (typeof item !== 'string' && typeof item !== 'number') throw fail(['zones', id, i], `zones.${id}.${i}: a role id or an address block`);
      const text = String(item);
      const block = parseBlock(text);
      if (block) zone.blocks.push(block);
      else if (roleIds.has(text)) zone.roles.push(text);
      else throw fail(['zones', id, i], `zones.${id}.${i}: ${quoted(text)} is neither an address or CIDR block nor a role of the catalogs (${someOf([...roleIds].sort())})`);
    });
    out.push(zone);
  }
  if (out.length === 0) throw fail(['zones'], 'zones: at least one zone');
  return { file, zones: out };
}

/** The zone of a host: the narrowest block that holds it, else the first zone naming one of its roles (in the host's order), else null. */
export function zoneOf(map: ZoneMap, address: string | null, roles: readonly string[]): Zone | null {
  const a = address === null ? null : addressToBigInt(address);
  let best: { zone: Zone; prefix: number } | null = null;
  if (a) {
    for (const zone of map.zones) for (const b of zone.blocks) if (inBlock(b, a) && (best === null || b.prefix > best.prefix)) best = { zone, prefix: b.prefix };
  }
  if (best) return best.zone;
  for (const role of roles) {
    const zone = map.zones.find((z) => z.roles.includes(role));
    if (zone) return zone;
  }
  return null;
}
