/**
 * The benchmark's IPFIX generator (bench/generate-ipfix.ts): a small file decodes, through
 * flowaudit's own reader, to exactly the records asked for, in their mix of the catalog's ports,
 * background services and noise, with many clients and no damage or loss.
 */
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateIpfix, siteRecords, type SiteMix } from '../bench/generate-ipfix.js';
import { loadCatalog } from '../src/catalog/load.js';
import type { FlowRecord } from '../src/flow/record.js';
import { readIpfixFile, readIpfixFlows, type ExportRecord } from '../src/ingest/ipfix/index.js';
import { scratch } from './helpers/scratch.js';

const RECORDS = 5000;

/** What a record in the file says of the flow it was made from (the client is the source). */
function asExported(f: FlowRecord): Partial<ExportRecord> {
  const startMs = f.startSec * 1000 + f.startNs / 1e6;
  const r: Partial<ExportRecord> = {
    ipVersion: f.ipVersion, src: f.client, dst: f.server, srcPort: f.clientPort, dstPort: f.serverPort, proto: f.protoNumber,
    packets: f.clientPackets, bytes: f.clientBytes, reversePackets: f.serverPackets, reverseBytes: f.serverBytes, biflow: true,
    startMs, endMs: startMs + Math.round(f.duration * 1000), biflowDirection: 1,
  };
  if (f.icmpType !== undefined) {
    r.icmpType = f.icmpType;
    r.icmpCode = f.icmpCode;
  }
  if (f.vlan !== undefined) r.vlan = f.vlan;
  return r;
}

describe('bench/generate-ipfix.ts', () => {
  it(`a file of ${RECORDS} records decodes to those records, in the site's mix`, async () => {
    const path = scratch('fa-gen-ipfix-').write('site.ipfix', '');
    const res = generateIpfix({ out: path, records: RECORDS, clients: 2000, seed: 7 });
    expect(res.records).toBe(RECORDS);
    expect(statSync(path).size).toBe(res.bytes);
    // The same options give the same records: what was asked for, copied as they are made.
    const mix: SiteMix = { catalog: 0, background: 0, noise: 0 };
    const made: Array<Partial<ExportRecord>> = [];
    for (const f of siteRecords({ records: RECORDS, clients: 2000, seed: 7 }, mix)) made.push(asExported(f));
    expect(made).toHaveLength(RECORDS);
    expect(mix).toEqual(res.mix);

    const reader = readIpfixFile(path);
    const got: ExportRecord[] = [];
    for await (const r of reader) got.push(r);
    expect(reader.decoder.damage.toJSON()).toEqual({});
    expect(reader.decoder.stats.lostRecords).toBe(0);
    expect(reader.decoder.stats.messages).toBe(res.messages);
    expect(got).toHaveLength(RECORDS);
    // Within a message the records are grouped by template: the same records, in another order.
    const project = (r: Partial<ExportRecord>) => JSON.stringify(Object.keys(made[0]!).concat('icmpType', 'icmpCode', 'vlan').map((k) => r[k as keyof ExportRecord] ?? null));
    expect(got.map(project).sort()).toEqual(made.map(project).sort());

    // A busy site: many clients, the catalog's ports most of the time, background and noise beside.
    expect(new Set(got.map((r) => r.src)).size).toBeGreaterThan(1500);
    expect(mix.catalog / RECORDS).toBeGreaterThan(0.65);
    expect(mix.background / RECORDS).toBeGreaterThan(0.17);
    expect(mix.noise / RECORDS).toBeGreaterThan(0.08);
    const catalogPorts = new Set(loadCatalog('bmc-cm').rules.flatMap((r) => r.ranges.flatMap(([lo, hi]) => (hi - lo < 16 ? Array.from({ length: hi - lo + 1 }, (_, k) => lo + k) : []))));
    const onCatalogPorts = got.filter((r) => r.dstPort !== null && catalogPorts.has(r.dstPort)).length;
    expect(onCatalogPorts / RECORDS).toBeGreaterThan(0.65);
    expect(got.filter((r) => r.dstPort === 1610).length / RECORDS).toBeGreaterThan(0.3);
    expect(got.some((r) => r.ipVersion === 6) && got.some((r) => r.vlan !== undefined) && got.some((r) => r.icmpType !== undefined)).toBe(true);
    // The records span the day.
    const starts = got.map((r) => r.startMs!);
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThan(23 * 3_600_000);

    // Stitched, each record is its own conversation but where a client reused a port on the same server.
    const flows = readIpfixFlows(path);
    let n = 0;
    for await (const _ of flows) n++;
    expect(n).toBeGreaterThan(RECORDS * 0.99);
  });
});
