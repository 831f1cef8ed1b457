/**
 * Regenerates the bundled sample captures with the project's own writer:
 *   npm run samples            (or: npx tsx samples/generate.ts [output folder])
 * Deterministic: the same bytes every run, so a diff shows when a sample changed.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePcapng, WrittenPacket } from '../src/capture/writer.js';
import { erspanFrame, frame, PacketSpec, tcpConversation } from '../src/synth/frames.js';
import { ssrpReply } from '../src/synth/dcerpc.js';
import { epmExchange } from '../src/synth/epm.js';

const here = process.argv[2] ?? dirname(fileURLToPath(import.meta.url));

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

/** Three minutes between a site sample's conversations. */
const SITE_SPREAD_MS = 180_000;

/**
 * Packets laid out in time order from a start, a few milliseconds apart; with `spreadMs`, each
 * conversation after the first starts that long after the one before, so that a site's capture
 * watches its hosts for longer than --min-span (10 minutes) and its missing flows are findings.
 */
class Timeline {
  readonly packets: WrittenPacket[] = [];
  private t = 1_732_000_000;
  private ns = 0;
  constructor(private readonly spreadMs = 0) {}
  add(data: Uint8Array, gapMs = 3): void {
    this.ns += gapMs * 1_000_000;
    while (this.ns >= 1e9) {
      this.t++;
      this.ns -= 1e9;
    }
    this.packets.push({ data, tsSec: this.t, tsNs: this.ns });
  }
  conv(specs: PacketSpec[]): void {
    if (this.spreadMs && this.packets.length) this.pause(this.spreadMs);
    for (const s of specs) this.add(frame(s));
  }
  /** Time passes with nothing on the wire. */
  pause(ms: number): void {
    this.add(new Uint8Array(0), ms);
    this.packets.pop();
  }
}

/**
 * bmc-cm-site.pcapng with bmc-cm-roles.yaml: one of each verdict and requirement status of the BMC
 * Client Management catalog.
 */
function bmcSite(): Buffer {
  const tl = new Timeline(SITE_SPREAD_MS);
  const master = '10.10.0.10';
  const relay = '10.10.0.11';
  // Client .21 and its master talk both ways on the agent port: satisfied.
  tl.conv(tcpConversation('10.20.0.21', 50001, master, 1610));
  tl.conv(tcpConversation(master, 50002, '10.20.0.21', 1610));
  // Client .22 reaches the master, which never connects back, and there is no 1611 tunnel: missing.
  tl.conv(tcpConversation('10.20.0.22', 50003, master, 1610));
  // Client .23 reaches its relay; the relay's connection back and the client's tunnel both go unanswered: failing.
  tl.conv(tcpConversation('10.20.0.23', 50004, relay, 1610));
  tl.conv(tcpConversation(relay, 50005, '10.20.0.23', 1610, { answer: 'silent' }));
  tl.conv(tcpConversation('10.20.0.23', 50006, relay, 1611, { answer: 'silent' }));
  // The console manages the master: expected.
  tl.conv(tcpConversation('10.30.0.5', 50007, master, 1611));
  // The master talks to its database: expected. A client talks to it too: role mismatch.
  tl.conv(tcpConversation(master, 50008, '10.10.0.20', 1433));
  tl.conv(tcpConversation('10.20.0.22', 50009, '10.10.0.20', 1433));
  // Remote desktop from a client to the master: undocumented.
  tl.conv(tcpConversation('10.20.0.21', 50010, master, 3389));
  // Wake-on-LAN from the master to the clients' subnet broadcast: expected.
  tl.conv([{ proto: 'udp', src: master, dst: '10.20.0.255', srcPort: 50011, dstPort: 9, payload: 102 }]);
  // Client .24 is in the role map but says nothing: client-reaches-parent is missing for it.
  return writePcapng(tl.packets, { interfaces: [{ linkType: 1, tsresol: 6, name: 'span-core' }] });
}

const BMC_ROLES = `# Role map for samples/bmc-cm-site.pcapng (flowaudit analyze --catalog bmc-cm --roles …)
roles:
  master-server: [10.10.0.10]
  relay: [10.10.0.11]
  database-server: [10.10.0.20]
  console: [10.30.0.5]
  client: [10.20.0.21, 10.20.0.22, 10.20.0.23, 10.20.0.24]
`;

/**
 * sccm2007-site.pcapng with sccm2007-roles.yaml: RPC endpoint-mapper calls whose granted ports are
 * used, never tried, or tried and never answered; clients polling their management point.
 */
function sccmSite(): Buffer {
  const tl = new Timeline();
  const site = '10.1.0.10';
  // Site server → DC1: the endpoint mapper grants 49667 and the site server connects: satisfied.
  tl.conv(epmExchange(site, '10.1.0.2', 51001, [{ port: 49667 }]));
  tl.conv(tcpConversation(site, 51002, '10.1.0.2', 49667));
  // Site server → DC2: granted 49670, never connected: missing (the capture goes on for seconds after
  // the grant, long enough for a connection that never comes).
  tl.conv(epmExchange(site, '10.1.0.3', 51003, [{ port: 49670 }]));
  tl.pause(4000);
  // Site server → distribution point: granted 49700, tried, never answered: failing.
  tl.conv(epmExchange(site, '10.1.0.12', 51004, [{ port: 49700 }]));
  tl.conv(tcpConversation(site, 51005, '10.1.0.12', 49700, { answer: 'silent' }));
  // Clients poll the management point over HTTP; the site server reads the database.
  tl.conv(tcpConversation('10.2.0.31', 52001, '10.1.0.11', 80));
  tl.conv(tcpConversation('10.2.0.32', 52002, '10.1.0.11', 80));
  tl.conv(tcpConversation(site, 51006, '10.1.0.20', 1433));
  // An SSH session from a client to the site server: undocumented.
  tl.conv(tcpConversation('10.2.0.32', 52003, site, 22));
  return writePcapng(tl.packets, { interfaces: [{ linkType: 1, tsresol: 9, name: 'span-datacenter' }] });
}

const SCCM_ROLES = `# Role map for samples/sccm2007-site.pcapng (flowaudit analyze --catalog sccm2007 --roles …)
roles:
  site-server: [10.1.0.10]
  domain-controller: [10.1.0.2, 10.1.0.3]
  management-point: [10.1.0.11]
  distribution-point: [10.1.0.12]
  sql-server: [10.1.0.20]
  client: [10.2.0.0/24]
`;

/**
 * itms8-site.pcapng with itms8-roles.yaml: agents reaching (or not) their Notification Server, a task
 * server tickle, package downloads, a SQL named instance found through the SQL Browser.
 */
function itmsSite(): Buffer {
  const tl = new Timeline(SITE_SPREAD_MS);
  const ns = '10.5.0.10';
  // Agent .21 polls the NS over HTTPS: satisfied. Agent .22 only reaches the package server: missing.
  tl.conv(tcpConversation('10.6.0.21', 53001, ns, 443));
  tl.conv(tcpConversation('10.6.0.22', 53002, '10.5.0.30', 80));
  // The NS tickles agent .21 on 52028 but nobody answers: the flow is documented, the outcome attempted.
  tl.conv(tcpConversation(ns, 53003, '10.6.0.21', 52028, { answer: 'silent' }));
  // The task server downloads tasks from the NS: satisfied.
  tl.conv(tcpConversation('10.5.0.40', 53004, ns, 443));
  // The NS asks the SQL Browser for the instance, which answers tcp 49172; the NS connects there.
  tl.conv([
    { proto: 'udp', src: ns, dst: '10.5.0.20', srcPort: 53005, dstPort: 1434, payload: Buffer.from([0x04, ...Buffer.from('ALTIRIS')]) },
    { proto: 'udp', src: '10.5.0.20', dst: ns, srcPort: 1434, dstPort: 53005, payload: ssrpReply([{ server: 'SQL1', name: 'ALTIRIS', port: 49172 }]) },
  ]);
  tl.conv(tcpConversation(ns, 53006, '10.5.0.20', 49172));
  // An agent connects straight to the SQL server: role mismatch. Telnet to the NS: undocumented.
  tl.conv(tcpConversation('10.6.0.22', 53007, '10.5.0.20', 1433));
  tl.conv(tcpConversation('10.6.0.21', 53008, ns, 23));
  return writePcapng(tl.packets, { interfaces: [{ linkType: 1, tsresol: 6, name: 'span-smp' }] });
}

const ITMS_ROLES = `# Role map for samples/itms8-site.pcapng (flowaudit analyze --catalog itms8 --roles …)
roles:
  notification-server: [10.5.0.10]
  sql-server: [10.5.0.20]
  package-server: [10.5.0.30]
  task-server: [10.5.0.40]
  agent: [10.6.0.0/24]
`;

/** cam-site.pcapng with cam-roles.yaml: the KVM manager, its devices, a user's remote session. */
function camSite(): Buffer {
  const tl = new Timeline(SITE_SPREAD_MS);
  const manager = '10.8.0.10';
  // Discovery broadcast from the manager, the device answering on 3080.
  tl.conv([
    { proto: 'udp', src: manager, dst: '10.8.1.255', srcPort: 3080, dstPort: 3080, payload: 64 },
    { proto: 'udp', src: '10.8.1.21', dst: manager, srcPort: 3080, dstPort: 3080, payload: 96 },
  ]);
  // Fallback discovery on 3081 to device .22, which never answers on 3080: missing.
  tl.conv([{ proto: 'udp', src: manager, dst: '10.8.1.22', srcPort: 50100, dstPort: 3081, payload: 64 }]);
  // Status updates, a user's web login and a remote session: expected.
  tl.conv(tcpConversation(manager, 50101, '10.8.1.21', 443));
  tl.conv(tcpConversation('10.9.0.5', 50102, manager, 443));
  tl.conv(tcpConversation('10.9.0.5', 50103, '10.8.1.21', 901));
  // A user trying SSH on the manager (administrators only): role mismatch.
  tl.conv(tcpConversation('10.9.0.5', 50104, manager, 22, { answer: 'reset' }));
  return writePcapng(tl.packets, { interfaces: [{ linkType: 1, tsresol: 6, name: 'span-kvm' }] });
}

const CAM_ROLES = `# Role map for samples/cam-site.pcapng (flowaudit analyze --catalog cam --roles …)
roles:
  manager: [10.8.0.10]
  device: [10.8.1.21, 10.8.1.22]
  client: [10.9.0.5]
  administrator: [10.9.0.100]
`;

writeFileSync(join(here, 'itms8-site.pcapng'), itmsSite());
writeFileSync(join(here, 'itms8-roles.yaml'), ITMS_ROLES);
writeFileSync(join(here, 'cam-site.pcapng'), camSite());
writeFileSync(join(here, 'cam-roles.yaml'), CAM_ROLES);
writeFileSync(join(here, 'mirror-port.pcapng'), mirrorPort());
writeFileSync(join(here, 'bmc-cm-site.pcapng'), bmcSite());
writeFileSync(join(here, 'bmc-cm-roles.yaml'), BMC_ROLES);
writeFileSync(join(here, 'sccm2007-site.pcapng'), sccmSite());
writeFileSync(join(here, 'sccm2007-roles.yaml'), SCCM_ROLES);
console.log(`wrote ${here}: mirror-port.pcapng and a site capture with its role map for bmc-cm, sccm2007, itms8 and cam`);
