/**
 * Writes an IPFIX file (RFC 5655) of a busy site's flow records, for the benchmark of auditing a day
 * of records in bounded memory:
 *   npx tsx bench/generate-ipfix.ts --out bench/out/site-50m.ipfix [--records 50000000] [--clients 20000]
 *     [--servers 40] [--hours 24] [--catalog bmc-cm] [--seed 1]
 * The records are flowaudit's own export (src/ingest/ipfix/encode.ts: one biflow record a flow,
 * templates refreshed as over UDP), streamed to the file through one buffer: memory does not grow
 * with --records. The mix, each record drawn on its own from a seeded generator:
 * - 70 % the catalog's documented ports (its rules' TCP and UDP ports, ranges of at most 16 ports):
 *   a client to one of the site's servers (10.10.0.0/24), agent traffic (the first rule port that
 *   is the catalog's agent port, 1610 for bmc-cm) being half of it;
 * - 20 % background services (the background catalog's ports: DNS, Kerberos, LDAP, SMB, NTP …) to
 *   the infrastructure hosts (10.0.0.1–8);
 * - 10 % noise: undocumented ports on the site's servers and on outside hosts, SYN scans from five
 *   scanners (never answered), ICMP echo.
 * Clients are 10.20.0.0/16 (a tenth of them IPv6, 2001:db8:20::/64, talking to servers in
 * 2001:db8:10::/64; a tenth tagged VLAN 100–109);
 * TCP flows mostly established, some unanswered or refused; records evenly through --hours from
 * 2027-01-15T00:00:00Z, in time order, lasting up to 30 s.
 */
import { parseArgs } from 'node:util';
import { loadBackground } from '../src/catalog/background.js';
import { loadCatalog } from '../src/catalog/load.js';
import type { Catalog } from '../src/catalog/types.js';
import { formatIPv4, formatIPv6 } from '../src/core/addr.js';
import { formatIso } from '../src/core/time.js';
import type { FlowRecord } from '../src/flow/record.js';
import { IpfixEncoder, IpfixFileWriter } from '../src/ingest/ipfix/index.js';

export interface SiteOptions {
  records: number;
  clients?: number;
  servers?: number;
  hours?: number;
  /** A catalog id or file whose rules' ports make the documented share. */
  catalog?: string;
  seed?: number;
}

export interface SiteMix {
  catalog: number;
  background: number;
  noise: number;
}

/** The site's first second: 2027-01-15T00:00:00Z. */
export const SITE_START_SEC = 1_799_971_200;

type Service = { proto: 6 | 17; port: number };

/** The TCP and UDP ports of a catalog's rules (ranges of at most 16 ports, for a wide range is no service). */
function servicesOf(c: Catalog): Service[] {
  const seen = new Set<string>();
  const out: Service[] = [];
  for (const r of c.rules) {
    for (const t of r.transport) {
      if (t !== 'tcp' && t !== 'udp') continue;
      for (const [lo, hi] of r.ranges) {
        if (hi - lo >= 16) continue;
        for (let p = lo; p <= hi; p++) {
          const key = `${t}/${p}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ proto: t === 'tcp' ? 6 : 17, port: p });
        }
      }
    }
  }
  return out;
}

/** A small, fast, seeded generator (mulberry32): the same options give the same file. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The site's records, one at a time. The same object is yielded each time, overwritten: copy what
 * must be kept. `mix` counts the records of each share as they are made.
 */
export function* siteRecords(o: SiteOptions, mix: SiteMix = { catalog: 0, background: 0, noise: 0 }): Generator<FlowRecord> {
  const clients = o.clients ?? 20_000;
  const servers = o.servers ?? 40;
  const spanMs = (o.hours ?? 24) * 3_600_000;
  const rnd = random(o.seed ?? 1);
  const documented = servicesOf(loadCatalog(o.catalog ?? 'bmc-cm'));
  const background = servicesOf(loadBackground());
  if (documented.length === 0) throw new Error(`catalog ${o.catalog}: no TCP or UDP ports of 16 or fewer to draw from`);
  const agent = documented.find((s) => s.proto === 6 && s.port === 1610) ?? documented[0]!;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const r: FlowRecord = {
    proto: 'tcp', protoNumber: 6, ipVersion: 4, client: '', clientPort: null, server: '', serverPort: null, packets: 0, bytes: 0,
    clientPackets: 0, clientBytes: 0, serverPackets: 0, serverBytes: 0, start: null, end: null, duration: 0, outcome: null,
    direction: 'syn', firstFile: 0, firstFrame: 0, lastFile: 0, lastFrame: 0, startSec: 0, startNs: 0,
  };
  for (let i = 0; i < o.records; i++) {
    const c = Math.floor(rnd() * clients);
    const six = c % 10 === 9;
    // Clients fill 10.20.0.0/16 from .0.1 (the id's low bits the host, so no .0 or .255 address).
    const host = 0x0a140000 + ((Math.floor(c / 254) & 0xff) << 8) + (c % 254) + 1;
    r.client = six ? formatIPv6(0x20010db8, 0x00200000, 0, host) : formatIPv4(host);
    r.ipVersion = six ? 6 : 4;
    if (c % 10 === 3) r.vlan = 100 + (Math.floor(c / 10) % 10);
    else delete r.vlan;
    delete r.icmpType;
    delete r.icmpCode;
    let proto: number;
    let serverPort: number;
    let server: number;
    let answered = true;
    let scan = false;
    const share = rnd();
    if (share < 0.7) {
      mix.catalog++;
      const s = rnd() < 0.5 ? agent : pick(documented);
      proto = s.proto;
      serverPort = s.port;
      server = 0x0a0a0001 + Math.floor(rnd() * servers);
    } else if (share < 0.9) {
      mix.background++;
      const s = pick(background);
      proto = s.proto;
      serverPort = s.port;
      server = 0x0a000001 + Math.floor(rnd() * 8);
    } else {
      mix.noise++;
      const n = rnd();
      if (n < 0.5) {
        // An undocumented service: on a site server, or an outside host.
        proto = rnd() < 0.8 ? 6 : 17;
        serverPort = 1024 + Math.floor(rnd() * 64000);
        server = rnd() < 0.5 ? 0x0a0a0001 + Math.floor(rnd() * servers) : 0xc6336400 + Math.floor(rnd() * 256);
      } else if (n < 0.75) {
        proto = 6;
        serverPort = 1 + Math.floor(rnd() * 1024);
        server = 0x0a0a0000 + Math.floor(rnd() * 256);
        scan = true;
        answered = false;
      } else {
        proto = six ? 58 : 1;
        serverPort = 0;
        server = 0x0a0a0001 + Math.floor(rnd() * servers);
      }
    }
    const icmp = proto === 1 || proto === 58;
    r.server = six ? formatIPv6(0x20010db8, 0x00100000, 0, server >>> 0) : formatIPv4(server >>> 0);
    if (scan) {
      // The five scanners are clients too (the first five), each sweeping ports.
      const s = i % 5;
      r.client = six ? formatIPv6(0x20010db8, 0x00200000, 0, 0x0a140001 + s) : formatIPv4(0x0a140001 + s);
    }
    r.protoNumber = proto;
    r.proto = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : six ? 'icmpv6' : 'icmp';
    r.clientPort = icmp ? null : 49152 + Math.floor(rnd() * 16384);
    r.serverPort = icmp ? null : serverPort;
    const t = SITE_START_SEC * 1000 + Math.floor((i * spanMs) / o.records);
    const durationMs = scan ? 0 : Math.floor(rnd() * rnd() * 30_000);
    r.startSec = Math.floor(t / 1000);
    r.startNs = (t % 1000) * 1e6;
    r.start = formatIso(r.startSec, r.startNs, 3);
    r.end = formatIso(Math.floor((t + durationMs) / 1000), ((t + durationMs) % 1000) * 1e6, 3);
    r.duration = durationMs / 1000;
    if (proto === 6) {
      const o2 = scan ? 1 : rnd();
      r.direction = 'syn';
      if (o2 < 0.9) {
        r.outcome = 'established';
        r.clientFlags = 'SAFP';
        r.serverFlags = 'SAFP';
        r.clientPackets = 3 + Math.floor(rnd() * rnd() * 200);
        r.serverPackets = 2 + Math.floor(rnd() * rnd() * 300);
      } else if (o2 < 0.95) {
        r.outcome = 'rejected';
        r.clientFlags = 'S';
        r.serverFlags = 'AR';
        r.clientPackets = 1;
        r.serverPackets = 1;
      } else {
        r.outcome = 'attempted';
        r.clientFlags = 'S';
        r.serverFlags = '';
        r.clientPackets = scan ? 1 : 1 + Math.floor(rnd() * 3);
        r.serverPackets = 0;
      }
      r.clientBytes = r.clientPackets * (60 + Math.floor(rnd() * 400));
      r.serverBytes = r.serverPackets * (60 + Math.floor(rnd() * 1400));
    } else {
      delete r.clientFlags;
      delete r.serverFlags;
      r.outcome = null;
      answered = answered && rnd() < 0.98;
      r.direction = icmp ? 'icmp-type' : 'port-rank';
      r.clientPackets = 1 + Math.floor(rnd() * 4);
      r.serverPackets = answered ? 1 + Math.floor(rnd() * 4) : 0;
      r.clientBytes = r.clientPackets * (70 + Math.floor(rnd() * 200));
      r.serverBytes = r.serverPackets * (70 + Math.floor(rnd() * 500));
      if (icmp) {
        r.icmpType = six ? 128 : 8;
        r.icmpCode = 0;
      }
    }
    r.packets = r.clientPackets + r.serverPackets;
    r.bytes = r.clientBytes + r.serverBytes;
    yield r;
  }
}

export interface GenerateIpfixResult {
  records: number;
  messages: number;
  bytes: number;
  mix: SiteMix;
}

/** The site's records encoded into `out`. */
export function generateIpfix(o: SiteOptions & { out: string }): GenerateIpfixResult {
  const file = new IpfixFileWriter(o.out);
  let clock = SITE_START_SEC * 1000;
  // The exporter's clock is the records' own: templates are refreshed every minute of site time.
  const enc = new IpfixEncoder({ onMessage: (m) => file.write(m), clock: () => clock });
  const mix: SiteMix = { catalog: 0, background: 0, noise: 0 };
  for (const r of siteRecords(o, mix)) {
    clock = r.startSec * 1000 + r.startNs / 1e6;
    enc.add(r);
  }
  enc.flush();
  file.close();
  return { records: enc.stats.records, messages: enc.stats.messages, bytes: file.bytes, mix };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'bench/out/site-50m.ipfix' },
      records: { type: 'string', default: '50000000' },
      clients: { type: 'string', default: '20000' },
      servers: { type: 'string', default: '40' },
      hours: { type: 'string', default: '24' },
      catalog: { type: 'string', default: 'bmc-cm' },
      seed: { type: 'string', default: '1' },
    },
  });
  const t = performance.now();
  const res = generateIpfix({
    out: values.out!, records: Number(values.records), clients: Number(values.clients), servers: Number(values.servers),
    hours: Number(values.hours), catalog: values.catalog!, seed: Number(values.seed),
  });
  const s = (performance.now() - t) / 1000;
  console.log(`wrote ${values.out}: ${res.records} records (catalog ${res.mix.catalog}, background ${res.mix.background}, noise ${res.mix.noise}) in ${res.messages} messages, ${(res.bytes / 1e9).toFixed(2)} GB, in ${s.toFixed(1)} s (${(res.records / s / 1e6).toFixed(2)} M records/s)`);
}
