/**
 * A tunnelled flow keeps its outer IP header (what a firewall between the tunnel's ends sees), held
 * to tshark on Zeek's real tunnel traces: GRE, ERSPAN, IP-in-IP (4in4, 4in6, 6in4, 6in6, 6in6in6),
 * VXLAN, Geneve, Teredo. For every tunnelled flow, tshark's outermost IP header of the flow's first
 * tunnelled frame, oriented by who sent that frame, gives outerClient and outerServer; for a tunnel over UDP
 * the outermost UDP header gives the outer ports. Read in one pass and in shards, alike; in JSON,
 * CSV and the text table.
 */
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFlows } from '../src/flow/pipeline.js';
import type { FlowRecord } from '../src/flow/record.js';
import { buildFlowsSharded } from '../src/worker/sharded.js';
import { capturesDir, listCaptures, repositoryRoot, skipWithoutCaptures, skipWithoutTshark, tsharkFields } from './helpers/captures.js';
import { run } from './helpers/run.js';

const cli = join(repositoryRoot, 'dist/cli/main.js');
const runCli = async (args: string[]) => {
  const r = await run(process.execPath, [cli, ...args]);
  return { code: r.status, stdout: r.stdout };
};

/** A frame's IP headers, outermost first, its outermost UDP header and its innermost ports, as tshark reads them. */
interface Frame {
  number: number;
  headers: Array<{ src: string; dst: string }>;
  outerUdp: { src: number; dst: number } | null;
  ports: [number, number] | null;
}

async function tsharkFrames(file: string): Promise<Frame[]> {
  const fields = ['frame.number', 'frame.protocols', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'udp.srcport', 'udp.dstport', 'tcp.srcport', 'tcp.dstport'];
  const r = await tsharkFields(file, fields, ['-E', 'occurrence=a', '-E', 'aggregator=,']);
  return r.rows.map(([number, protocols, ipSrc, ipDst, ip6Src, ip6Dst, udpSrc, udpDst, tcpSrc, tcpDst]) => {
    const list = (s: string | undefined) => (s ? s.split(',') : []);
    const at = { ip: 0, ipv6: 0 };
    const headers: Frame['headers'] = [];
    let outerUdp: Frame['outerUdp'] = null;
    for (const p of (protocols ?? '').split(':')) {
      if (p === 'ip') headers.push({ src: list(ipSrc)[at.ip]!, dst: list(ipDst)[at.ip++]! });
      else if (p === 'ipv6') headers.push({ src: list(ip6Src)[at.ipv6]!, dst: list(ip6Dst)[at.ipv6++]! });
      else if (p === 'udp' && headers.length === 1 && outerUdp === null) outerUdp = { src: Number(list(udpSrc)[0]), dst: Number(list(udpDst)[0]) };
    }
    const tcp = list(tcpSrc);
    const udp = list(udpSrc);
    const ports: Frame['ports'] = tcp.length ? [Number(tcp.at(-1)), Number(list(tcpDst).at(-1))] : udp.length ? [Number(udp.at(-1)), Number(list(udpDst).at(-1))] : null;
    return { number: Number(number), headers, outerUdp, ports };
  });
}

/** The flow's first frame that came through a tunnel: its innermost header is the flow's, under at least one more. */
function firstTunnelled(frames: readonly Frame[], f: FlowRecord): Frame | undefined {
  const ends = new Set([`${f.client} ${f.clientPort ?? ''}`, `${f.server} ${f.serverPort ?? ''}`]);
  return frames.find((fr) => {
    if (fr.number < f.firstFrame || fr.number > f.lastFrame || fr.headers.length < 2) return false;
    const inner = fr.headers.at(-1)!;
    const port = (i: number) => (f.clientPort === null ? '' : String(fr.ports?.[i] ?? ''));
    return ends.has(`${inner.src} ${port(0)}`) && ends.has(`${inner.dst} ${port(1)}`);
  });
}

const UDP_TUNNELS = new Set(['vxlan', 'geneve', 'teredo']);
const outerOf = (f: FlowRecord) => ({ client: f.outerClient, server: f.outerServer, clientPort: f.outerClientPort, serverPort: f.outerServerPort });

describe.skipIf(skipWithoutCaptures('tunnel outer headers') || skipWithoutTshark('tunnel outer headers'))('a tunnelled flow\'s outer header, against tshark', () => {
  const root = capturesDir()!;
  const files = [...listCaptures('zeek/tunnels'), ...['erspan.pcap', 'erspanII.pcap', 'erspanIII.pcap'].map((f) => `${root}/zeek/${f}`)];

  it('is the outermost IP header (and UDP ports) of the flow\'s first frame, oriented by its sender, in one pass and in shards', async () => {
    let checked = 0;
    const kinds = new Set<string>();
    for (const file of files) {
      const flows = (await buildFlows([file])).table.export();
      const frames = await tsharkFrames(file);
      const sharded = (await buildFlowsSharded([file], { workers: 2, minShardBytes: 1024 })).table.export();
      expect(sharded.map(outerOf), basename(file)).toEqual(flows.map(outerOf));
      for (const f of flows) {
        if (f.tunnel === undefined || f.tunnel.every((t) => t === 'mpls' || t === 'pppoe')) {
          expect(f.outerClient, `${basename(file)}: a flow without an IP tunnel has no outer header`).toBeUndefined();
          continue;
        }
        const what = `${basename(file)} ${f.proto} ${f.client}→${f.server} frames ${f.firstFrame}-${f.lastFrame}`;
        const fr = firstTunnelled(frames, f);
        expect(fr, `${what}: tshark sees it tunnelled`).toBeDefined();
        const outer = fr!.headers[0]!;
        const fromClient = fr!.headers.at(-1)!.src === f.client && (f.clientPort === null || fr!.ports?.[0] === f.clientPort);
        expect([f.outerClient, f.outerServer], `${what}, frame ${fr!.number}`).toEqual(fromClient ? [outer.src, outer.dst] : [outer.dst, outer.src]);
        const udp = fr!.outerUdp;
        if (f.tunnel.some((t) => UDP_TUNNELS.has(t)) && udp !== null) {
          expect([f.outerClientPort, f.outerServerPort], what).toEqual(fromClient ? [udp.src, udp.dst] : [udp.dst, udp.src]);
        } else expect(f.outerClientPort, `${what}: no UDP around the tunnel, no outer ports`).toBeUndefined();
        for (const t of f.tunnel) kinds.add(t);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(25);
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['erspan', 'geneve', 'gre', 'ip-in-ip', 'teredo', 'vxlan']));
  }, 120_000);

  it('is in the flows JSON, CSV and text table, and in the audit\'s JSON and HTML', async () => {
    const file = `${root}/zeek/tunnels/vxlan.pcap`;
    const json = await runCli(['flows', file, '--format', 'json']);
    expect(json.code).toBe(0);
    const flows = JSON.parse(json.stdout).flows as FlowRecord[];
    const t = flows.find((f) => f.tunnel?.includes('vxlan'))!;
    expect(t).toMatchObject({ outerClient: '192.168.56.11', outerServer: '192.168.56.12', outerServerPort: 4789 });
    const csv = (await runCli(['flows', file, '--format', 'csv'])).stdout.trim().split('\n');
    const head = csv[0]!.split(',');
    expect(head).toEqual(expect.arrayContaining(['tunnel', 'outerClient', 'outerServer', 'outerClientPort', 'outerServerPort']));
    const row = csv.slice(1).map((l) => l.split(',')).find((r) => r[head.indexOf('tunnel')] === 'vxlan')!;
    expect(row[head.indexOf('outerServer')]).toBe('192.168.56.12');
    expect(row[head.indexOf('outerServerPort')]).toBe('4789');
    const text = (await runCli(['flows', file])).stdout;
    expect(text).toContain(`via vxlan 192.168.56.11:${t.outerClientPort}→192.168.56.12:4789`);
    // The audit's formats carry it too: the judged JSON flow and the HTML flows table.
    const audit = JSON.parse((await runCli(['analyze', file, '--catalog', 'bmc-cm', '--format', 'json'])).stdout);
    expect(audit.flows.find((f: FlowRecord) => f.tunnel?.includes('vxlan'))).toMatchObject({ outerClient: '192.168.56.11', outerServerPort: 4789 });
    const html = (await runCli(['analyze', file, '--catalog', 'bmc-cm', '--format', 'html'])).stdout;
    expect(html).toContain(`via vxlan 192.168.56.11:${t.outerClientPort}→192.168.56.12:4789`);
  });
});
