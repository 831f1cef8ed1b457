import { flowaudit as runCli, run } from './helpers/run.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkReport } from './helpers/report-schema.js';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist/cli/main.js');
const sample = join(root, 'samples/mirror-port.pcapng');

const flowaudit = (args: string[], input?: Buffer) => runCli(args, { timeout: 60_000, ...(input ? { input } : {}) });

describe('flowaudit flows', () => {
  it('lists the conversations of the bundled sample as JSON', async () => {
    const r = await flowaudit(['flows', sample, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = checkReport('flows', JSON.parse(r.stdout));
    expect(out.capture).toMatchObject({ packets: 58, ipPackets: 58, decodeErrorCount: 0, linkTypes: { '1 (ethernet)': 58 } });
    expect(out.capture.files[0].interfaces.map((i: { name: string }) => i.name)).toEqual(['span0', 'erspan-site40']);
    expect(out.flows).toHaveLength(9);
    const tunnel = out.flows.find((f: { serverPort: number; outcome: string }) => f.serverPort === 1611 && f.outcome === 'attempted');
    expect(tunnel).toMatchObject({ proto: 'tcp', client: '10.20.1.22', server: '10.20.0.10', clientPackets: 3, serverPackets: 0, start: '2024-11-19T07:06:40.030754Z' });
    const erspan = out.flows.find((f: { client: string }) => f.client === '10.40.1.7');
    expect(erspan.tunnel).toEqual(['gre', 'erspan']);
    expect(erspan.start).toMatch(/\.\d{9}Z$/); // the nanosecond interface keeps nanoseconds
  });

  it('writes CSV, one flow a row, to a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fa-cli-'));
    const out = join(dir, 'flows.csv');
    const r = await flowaudit(['flows', sample, '--format', 'csv', '--out', out]);
    expect(r.code).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('proto,client,clientPort,server,serverPort,packets,bytes,clientPackets,clientBytes,serverPackets,serverBytes,start,end,duration,outcome,direction,firstFile,firstFrame,lastFile,lastFrame,clientFlags,serverFlags,icmpType,icmpCode,icmpErrors,icmpErrorType,icmpErrorCode,vlan,tunnel,outerClient,outerServer,outerClientPort,outerServerPort,filter');
    expect(lines).toHaveLength(10);
    expect(lines.some((l) => l.startsWith('tcp,10.20.1.23,50345,10.20.0.11,135,2,120,1,60,1,60,') && l.includes(',rejected,syn,0,26,0,27,S,AR,'))).toBe(true);
  });

  it('prints a readable table by default, with the damage section', async () => {
    const r = await flowaudit(['flows', sample]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('58 packets');
    expect(r.stdout).toMatch(/tcp\s+10\.20\.1\.22:50333\s+10\.20\.0\.10:1611\s+3\s+180 B.*attempted/);
    expect(r.stdout).toContain('decode errors: none');
  });

  it('reads gzip from standard input, recognised by its magic', async () => {
    const r = await flowaudit(['flows', '-', '--format', 'json'], gzipSync(readFileSync(sample)));
    expect(r.code).toBe(0);
    const out = checkReport('flows', JSON.parse(r.stdout));
    expect(out.capture.files[0]).toMatchObject({ file: '<stdin>', gzip: true, packets: 58 });
    expect(out.flows).toHaveLength(9);
  });

  it('exits 2 with a one-line reason on unusable input or arguments', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fa-cli-'));
    const garbage = join(dir, 'notes.txt');
    writeFileSync(garbage, 'this is not a capture\n');
    const empty = join(dir, 'empty.pcap');
    writeFileSync(empty, '');
    for (const [args, message] of [
      [['flows', join(dir, 'missing.pcap')], /missing\.pcap: cannot open: no such file/],
      [['flows', garbage], /not a pcap or pcapng capture/],
      [['flows', empty], /empty file/],
      [['flows', sample, '--format', 'yaml'], /format/],
      [['flows'], /missing required argument/],
    ] as const) {
      const r = await flowaudit([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stdout).toBe('');
    }
  });
});

describe('progress', () => {
  it('a large file shows a progress bar on a terminal, and nothing on a pipe', async () => {
    const { generate } = await import('../bench/generate.js');
    const big = join(mkdtempSync(join(tmpdir(), 'fa-progress-')), 'big.pcap');
    generate({ out: big, packets: 700_000, flows: 5000, format: 'pcap', vlanShare: 0, ipv6Share: 0, snaplen: 0, active: 100 });
    // `script` gives the command a pseudo-terminal, as a user's shell would.
    const tty = await run('script', ['-qc', `${process.execPath} ${cli} flows ${big} --workers 1 --format json --out /dev/null`, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/reading .* 100% \| \d+\/\d+ MB/);
    const piped = await flowaudit(['flows', big, '--workers', '1', '--format', 'json', '--out', '/dev/null']);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
  }, 180_000);
});
