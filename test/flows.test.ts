import { describe, expect, it } from 'vitest';
import { PacketRecord } from '../src/capture/record.js';
import { decodePacket, PacketView, Status } from '../src/decode/index.js';
import { FlowRecord, FlowTable } from '../src/flow/table.js';
import { flowsText } from '../src/report/flows.js';
import type { CaptureSummary } from '../src/flow/pipeline.js';
import { erspanFrame, ethernetFrame, frame, ipPacket, PacketSpec, tcpConversation, vxlanFrame } from '../src/synth/frames.js';

interface In {
  data: Uint8Array;
  direction?: 0 | 1 | 2;
  linkType?: number;
}

/** Runs frames through the decoder and a flow table the way the pipeline does. */
function flowsOf(frames: Array<Uint8Array | In>, opts: { vlanInKey?: boolean } = {}): FlowRecord[] {
  const table = new FlowTable(opts);
  const view = new PacketView();
  const rec = new PacketRecord();
  frames.forEach((f, i) => {
    const input: In = f instanceof Uint8Array ? { data: f } : f;
    rec.buf = Buffer.from(input.data);
    rec.off = 0;
    rec.capLen = rec.origLen = input.data.length;
    rec.tsSec = 1_700_000_000 + i;
    rec.tsNs = 123_456_789;
    rec.tsDigits = 9;
    rec.linkType = input.linkType ?? 1;
    rec.direction = input.direction ?? 0;
    decodePacket(rec, view);
    expect(view.status, `frame ${i}: ${view.error}`).toBe(Status.Ip);
    table.add(view, rec);
  });
  return table.export();
}

const frames = (specs: PacketSpec[]) => specs.map((s) => frame(s));

describe('TCP outcome and direction', () => {
  it('a full handshake is established, and the SYN sender is the client', () => {
    const [f, ...rest] = flowsOf(frames(tcpConversation('10.0.0.5', 51000, '10.0.0.1', 1610)));
    expect(rest).toHaveLength(0);
    expect(f).toMatchObject({ proto: 'tcp', client: '10.0.0.5', clientPort: 51000, server: '10.0.0.1', serverPort: 1610, outcome: 'established', direction: 'syn' });
    expect(f!.clientPackets).toBe(6);
    expect(f!.serverPackets).toBe(4);
    expect(f!.clientFlags).toBe('SAFP');
    expect(f!.serverFlags).toBe('SAFP');
  });

  it('a SYN nobody answers is attempted', () => {
    const [f] = flowsOf(frames(tcpConversation('10.0.0.5', 51000, '10.0.0.1', 1611, { answer: 'silent' })));
    expect(f).toMatchObject({ outcome: 'attempted', clientPackets: 3, serverPackets: 0, client: '10.0.0.5' });
  });

  it('a SYN answered by a reset is rejected', () => {
    const [f] = flowsOf(frames(tcpConversation('10.0.0.5', 51000, '10.0.0.1', 135, { answer: 'reset' })));
    expect(f).toMatchObject({ outcome: 'rejected', client: '10.0.0.5', serverPort: 135 });
  });

  it('without a SYN the side on the ephemeral port is the client, even if the server spoke first', () => {
    const conv = tcpConversation('10.0.0.5', 51000, '10.0.0.1', 443, { noSyn: true });
    const serverFirst = [conv[1]!, conv[0]!, ...conv.slice(2)];
    const [f] = flowsOf(frames(serverFirst));
    expect(f).toMatchObject({ outcome: 'partial', client: '10.0.0.5', server: '10.0.0.1', serverPort: 443, direction: 'port-rank' });
  });

  it('a lone SYN-ACK does not decide the direction; once data follows, its receiver is the client', () => {
    // Port rank alone would make 10.0.0.9:50000 the client of 10.0.0.1:8080.
    const synAck: PacketSpec = { proto: 'tcp', src: '10.0.0.9', dst: '10.0.0.1', srcPort: 50000, dstPort: 8080, flags: 'SA' };
    const lone = flowsOf(frames([synAck]));
    expect(lone[0]).toMatchObject({ client: '10.0.0.9', direction: 'port-rank', outcome: 'partial' });
    const data: PacketSpec = { proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.9', srcPort: 8080, dstPort: 50000, flags: 'PA', payload: 10 };
    const followed = flowsOf(frames([synAck, data]));
    expect(followed[0]).toMatchObject({ client: '10.0.0.1', clientPort: 8080, server: '10.0.0.9', direction: 'syn-ack' });
  });

  it('a new SYN on a finished 5-tuple starts a new flow', () => {
    const conv = tcpConversation('10.0.0.5', 51000, '10.0.0.1', 80);
    const flows = flowsOf(frames([...conv, ...conv]));
    expect(flows).toHaveLength(2);
    expect(flows.map((f) => f.outcome)).toEqual(['established', 'established']);
    expect(flows[0]!.packets + flows[1]!.packets).toBe(conv.length * 2);
  });

  it('a retried SYN after a reset is a second, also rejected, attempt', () => {
    const conv = tcpConversation('10.0.0.5', 51000, '10.0.0.1', 1433, { answer: 'reset' });
    expect(flowsOf(frames([...conv, ...conv])).map((f) => f.outcome)).toEqual(['rejected', 'rejected']);
  });
});

describe('UDP and ICMP direction', () => {
  it('the first sender is the client', () => {
    const q: PacketSpec = { proto: 'udp', src: '10.0.0.5', dst: '10.0.0.1', srcPort: 50123, dstPort: 50200, payload: 20 };
    const r: PacketSpec = { proto: 'udp', src: '10.0.0.1', dst: '10.0.0.5', srcPort: 50200, dstPort: 50123, payload: 40 };
    expect(flowsOf(frames([q, r]))[0]).toMatchObject({ client: '10.0.0.5', direction: 'first-packet', clientBytes: 62, serverBytes: 82 });
  });

  it('unless the port rule says otherwise: a DNS answer seen first still has the resolver as server', () => {
    const answer: PacketSpec = { proto: 'udp', src: '10.0.0.53', dst: '10.0.0.5', srcPort: 53, dstPort: 50123, payload: 80 };
    expect(flowsOf(frames([answer]))[0]).toMatchObject({ client: '10.0.0.5', clientPort: 50123, server: '10.0.0.53', serverPort: 53, direction: 'port-rank' });
  });

  it('an echo reply seen first makes its receiver the client', () => {
    const reply: PacketSpec = { proto: 'icmp', src: '10.0.0.1', dst: '10.0.0.5', type: 0 };
    expect(flowsOf(frames([reply]))[0]).toMatchObject({ proto: 'icmp', client: '10.0.0.5', server: '10.0.0.1', clientPort: null, serverPort: null, icmpType: 0, icmpCode: 0, direction: 'icmp-type', outcome: null });
  });

  it('with equal ports, pcapng direction flags decide: the capturing host is the client', () => {
    const inbound: PacketSpec = { proto: 'udp', src: '10.0.0.1', dst: '10.0.0.5', srcPort: 5000, dstPort: 5000, payload: 8 };
    expect(flowsOf([{ data: frame(inbound), direction: 1 }])[0]).toMatchObject({ client: '10.0.0.5', direction: 'epb-flags' });
    expect(flowsOf([{ data: frame(inbound), direction: 2 }])[0]).toMatchObject({ client: '10.0.0.1', direction: 'epb-flags' });
  });
});

describe('VLANs, tunnels, fragments', () => {
  const conv = frames(tcpConversation('10.1.0.5', 51000, '10.1.0.1', 443)).map((f) => f);

  it('a VLAN tag seen one way only does not split a flow, unless the VLAN is in the key', () => {
    const specs = tcpConversation('10.1.0.5', 51000, '10.1.0.1', 443);
    const mixed = specs.map((s) => frame(s, s.src === '10.1.0.5' ? { vlan: [20] } : {}));
    const one = flowsOf(mixed);
    expect(one).toHaveLength(1);
    expect(one[0]!.vlan).toBe(20);
    expect(one[0]!.vlanAsymmetric).toBe(true);
    expect(flowsOf(mixed, { vlanInKey: true })).toHaveLength(2);
  });

  it('QinQ tags are peeled and the outer id kept', () => {
    const [f] = flowsOf(frames(tcpConversation('10.1.0.5', 51000, '10.1.0.1', 443)).map((_, i) => frame(tcpConversation('10.1.0.5', 51000, '10.1.0.1', 443)[i]!, { vlan: [100, 200] })));
    expect(f).toMatchObject({ outcome: 'established', vlan: 100 });
  });

  it('ERSPAN and VXLAN report the inner flow', () => {
    const viaErspan = flowsOf(conv.map((c) => erspanFrame(c, '192.0.2.1', '192.0.2.2')));
    expect(viaErspan).toHaveLength(1);
    expect(viaErspan[0]).toMatchObject({ client: '10.1.0.5', server: '10.1.0.1', serverPort: 443, outcome: 'established', tunnel: ['gre', 'erspan'] });
    const viaVxlan = flowsOf(conv.map((c) => vxlanFrame(c, '192.0.2.1', '192.0.2.2')));
    expect(viaVxlan[0]).toMatchObject({ client: '10.1.0.5', serverPort: 443, tunnel: ['vxlan'] });
    // Counters are the original frame length: the encapsulated size, as on the mirror port.
    expect(viaVxlan[0]!.bytes).toBe(conv.reduce((s, c) => s + c.length, 0) + conv.length * 50);
  });

  it('IPv6 with hop-by-hop and destination options still yields TCP ports', () => {
    const ip = ipPacket({ proto: 'tcp', src: '2001:db8::5', dst: '2001:db8::1', srcPort: 50000, dstPort: 443, flags: 'S' });
    // Insert hop-by-hop (0) and destination options (60) headers between the IPv6 header and TCP.
    const withExt = new Uint8Array(ip.length + 16);
    withExt.set(ip.subarray(0, 40));
    withExt[6] = 0;
    withExt.set([60, 0, 1, 4, 0, 0, 0, 0], 40);
    withExt.set([6, 0, 1, 4, 0, 0, 0, 0], 48);
    withExt.set(ip.subarray(40), 56);
    const len = ip.length - 40 + 16;
    withExt[4] = len >> 8;
    withExt[5] = len & 255;
    const [f] = flowsOf([ethernetFrame(withExt)]);
    expect(f).toMatchObject({ ipVersion: 6, client: '2001:db8::5', serverPort: 443, outcome: 'attempted' });
  });

  it('later IPv4 fragments belong to the flow of the first', () => {
    const whole = ipPacket({ proto: 'udp', src: '10.0.0.5', dst: '10.0.0.1', srcPort: 50000, dstPort: 69, payload: 1000 }, { ipId: 777 });
    const body = whole.subarray(20);
    const frag = (offset: number, more: boolean, part: Uint8Array) => {
      const h = Uint8Array.from(whole.subarray(0, 20));
      const total = 20 + part.length;
      h[2] = total >> 8;
      h[3] = total & 255;
      const fo = (offset / 8) | (more ? 0x2000 : 0);
      h[6] = fo >> 8;
      h[7] = fo & 255;
      const out = new Uint8Array(total);
      out.set(h);
      out.set(part, 20);
      return ethernetFrame(out);
    };
    const flows = flowsOf([frag(0, true, body.subarray(0, 512)), frag(512, false, body.subarray(512))]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({ proto: 'udp', clientPort: 50000, serverPort: 69, clientPackets: 2 });
  });

  it('packets with wrong checksums still count', () => {
    const f = frame({ proto: 'tcp', src: '10.0.0.5', dst: '10.0.0.1', srcPort: 50000, dstPort: 80, flags: 'S' });
    const bad = Uint8Array.from(f);
    bad[14 + 20 + 16] ^= 0xff; // TCP checksum
    bad[14 + 10] ^= 0xff; // IP header checksum
    expect(flowsOf([bad])[0]).toMatchObject({ packets: 1, outcome: 'attempted' });
  });
});

describe('timestamps', () => {
  it('keep nanoseconds in the ISO output', () => {
    expect(flowsOf([frame({ proto: 'udp', src: '10.0.0.5', dst: '10.0.0.1', srcPort: 50000, dstPort: 53 })])[0]!.start).toBe('2023-11-14T22:13:20.123456789Z');
  });
});

describe('the text flow table', () => {
  it('lays out 200 000 flows in aligned columns (a table that size once overflowed the stack)', () => {
    const [one] = flowsOf(frames(tcpConversation('10.0.0.5', 50000, '10.0.0.1', 1610)));
    const flows = Array.from({ length: 200_000 }, (_, i) => ({ ...one!, clientPort: 1024 + (i % 60000), packets: i }));
    const capture = { files: [{ file: 'x.pcap', interfaces: [] }], packets: 1, bytes: 1, first: null, last: null, notIp: {}, orphanFragments: 0, decodeErrors: {}, decodeErrorCount: 0 } as unknown as CaptureSummary;
    const lines = flowsText(capture, flows).split('\n');
    const rows = lines.filter((l) => l.startsWith('tcp '));
    expect(rows).toHaveLength(200_000);
    // Columns line up: every row has its START column where the header has it.
    const header = lines.find((l) => l.startsWith('PROTO'))!;
    const start = header.indexOf('START');
    expect(new Set(rows.map((r) => r.indexOf(one!.start!))).size).toBe(1);
    expect(rows[0]!.indexOf(one!.start!)).toBe(start);
  });
});
