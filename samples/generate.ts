/**
 * Regenerates the bundled sample captures with the project's own writer:
 *   npx tsx samples/generate.ts
 * Deterministic: the same bytes every run, so a diff shows when a sample changed.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePcapng, WrittenPacket } from '../src/capture/writer.js';
import { erspanFrame, frame, PacketSpec, tcpConversation } from '../src/synth/frames.js';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * mirror-port.pcapng: what a SPAN port in front of a client-management server sees in a few seconds.
 * Interface 0 is the local mirror (Ethernet), interface 1 a remote ERSPAN session from another site,
 * with nanosecond timestamps. It shows every TCP outcome and each kind of direction evidence.
 */
function mirrorPort(): Buffer {
  const packets: WrittenPacket[] = [];
  let t = 1_732_000_000; // 2024-11-19T07:06:40Z
  let ns = 0;
  const at = (data: Uint8Array, ifIndex = 0, direction: 0 | 1 | 2 = 0) => {
    ns += 1_250_000 + ((packets.length * 7919) % 900_000);
    if (ns >= 1e9) {
      t += 1;
      ns -= 1e9;
    }
    packets.push({ data, tsSec: t, tsNs: ns, ifIndex, direction });
  };
  const server = '10.20.0.10';
  // An agent reaches its master on the agent port, and the master connects back.
  for (const spec of tcpConversation('10.20.1.21', 50321, server, 1610, { exchanges: 3 })) at(frame(spec));
  for (const spec of tcpConversation(server, 50400, '10.20.1.21', 1610)) at(frame(spec));
  // Another agent's tunnel attempt is never answered (a firewall drops it).
  for (const spec of tcpConversation('10.20.1.22', 50333, server, 1611, { answer: 'silent' })) at(frame(spec));
  // An RPC endpoint-mapper call refused by the host firewall.
  for (const spec of tcpConversation('10.20.1.23', 50345, '10.20.0.11', 135, { answer: 'reset' })) at(frame(spec));
  // A console session already running when the capture started, on VLAN 30.
  for (const spec of tcpConversation('10.30.0.5', 51500, server, 1611, { noSyn: true })) at(frame(spec, { vlan: [30] }));
  // Name lookups and a ping.
  const dns: PacketSpec[] = [
    { proto: 'udp', src: '10.20.1.21', dst: '10.20.0.2', srcPort: 53001, dstPort: 53, payload: 34 },
    { proto: 'udp', src: '10.20.0.2', dst: '10.20.1.21', srcPort: 53, dstPort: 53001, payload: 50 },
  ];
  for (const spec of dns) at(frame(spec));
  at(frame({ proto: 'icmp', src: '10.20.0.10', dst: '10.20.1.22', type: 8, payload: 32 }));
  at(frame({ proto: 'icmp', src: '10.20.1.22', dst: '10.20.0.10', type: 0, payload: 32 }));
  // IPv6 HTTPS to a vendor update service, seen with direction flags from the capture host.
  for (const spec of tcpConversation('2001:db8:20::21', 50555, '2001:db8:ff::443', 443)) {
    at(frame(spec), 0, spec.src.startsWith('2001:db8:20::') ? 2 : 1);
  }
  // A remote site mirrored over ERSPAN: the inner flow is what is reported.
  for (const spec of tcpConversation('10.40.1.7', 50777, server, 1610)) at(erspanFrame(frame(spec), '192.0.2.40', '192.0.2.1'), 1);
  return writePcapng(packets, {
    interfaces: [
      { linkType: 1, snaplen: 65535, tsresol: 6, name: 'span0' },
      { linkType: 1, snaplen: 65535, tsresol: 9, name: 'erspan-site40' },
    ],
  });
}

writeFileSync(join(here, 'mirror-port.pcapng'), mirrorPort());
console.log('wrote samples/mirror-port.pcapng');
