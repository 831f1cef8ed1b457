/**
 * Other IP protocols are named, not numbered: a PIM, IGMP, ESP or OSPF flow of tcpdump's captures is
 * `pim`, `igmp`, `esp`, `ospf`, the keyword of the IP protocol tshark reads in the same packets; the
 * JSON Schema's `proto` admits exactly the keywords of the table and numbers.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IP_PROTOCOL_KEYWORDS, PROTO_NAMES } from '../src/flow/columns.js';
import { listCaptures, repositoryRoot, skipWithoutCaptures, skipWithoutTshark, tsharkFields } from './helpers/captures.js';
import { run } from './helpers/run.js';

const cli = join(repositoryRoot, 'dist/cli/main.js');

describe('the protocol table', () => {
  it('names every protocol of the table and numbers the rest; the schema admits exactly those', () => {
    expect(PROTO_NAMES[47]).toBe('gre');
    expect(PROTO_NAMES[132]).toBe('sctp');
    expect(PROTO_NAMES[253]).toBe('253');
    const schema = JSON.parse(readFileSync(join(repositoryRoot, 'schema/definitions.schema.json'), 'utf8')) as { $defs: { proto: { pattern: string } } };
    const pattern = new RegExp(schema.$defs.proto.pattern);
    for (let n = 0; n < 256; n++) expect(pattern.test(PROTO_NAMES[n]!), PROTO_NAMES[n]).toBe(true);
    const named = schema.$defs.proto.pattern.replace(/^\^\(/, '').replace(/\|\\d\{1,3\}\)\$$/, '').split('|');
    expect(named.sort()).toEqual(Object.values(IP_PROTOCOL_KEYWORDS).sort());
  });
});

describe.skipIf(skipWithoutCaptures('protocol names') || skipWithoutTshark('protocol names'))('flows of other IP protocols in real captures, against tshark', () => {
  const wanted = ['PIMv2_hellos.pcap', 'IGMP_V2.pcap', '02-sunrise-sunset-esp.pcap', 'ospf_graceful_restart_rfc3623.pcap'];
  const files = () => listCaptures('tcpdump').filter((f) => wanted.includes(basename(f)));

  it('each flow is named by the keyword of the IP protocol tshark reads, in flows and in the audit', async () => {
    expect(files().map((f) => basename(f)).sort()).toEqual([...wanted].sort());
    for (const file of files()) {
      const t = await tsharkFields(file, ['ip.proto']);
      const numbers = new Set(t.rows.map((r) => Number(r[0])).filter((n) => n > 0));
      const flows = JSON.parse((await run(process.execPath, [cli, 'flows', file, '--format', 'json'], { timeout: 60_000 })).stdout) as { flows: Array<{ proto: string; protoNumber?: number }> };
      expect(new Set(flows.flows.map((f) => f.proto)), file).toEqual(new Set([...numbers].map((n) => IP_PROTOCOL_KEYWORDS[n])));
      const text = (await run(process.execPath, [cli, 'analyze', file, '--catalog', 'bmc-cm'], { timeout: 60_000 })).stdout;
      for (const n of numbers) {
        expect(text, file).toMatch(new RegExp(`^ {2}${IP_PROTOCOL_KEYWORDS[n]}\\b`, 'm'));
        expect(text, file).not.toMatch(new RegExp(`^ {2}${n}\\b`, 'm'));
      }
    }
  });
});
