/**
 * `flowaudit collect --listen udp:[HOST:]PORT`: a collector of flow export. Exporters' datagrams
 * (NetFlow v5, v9, IPFIX) go through an ExportCollector (ingest/ipfix/collector.ts: templates per
 * exporter address and observation domain, records stitched into conversations, bounded memory), and
 * the audit of what it holds is reported as `live` reports (cli/session.ts: ticks, a final report at
 * --duration, SIGINT or SIGTERM, JSON one report a line, --out rewritten atomically).
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { audit, type AuditReport, type CollectSection } from '../audit/index.js';
import { InputError } from '../core/errors.js';
import { formatIso } from '../core/time.js';
import { ExportCollector } from '../ingest/ipfix/collector.js';
import { tableWriter, writerFor, type LiveWriter } from '../report/formats.js';
import { auditInputFiles, loadAuditInputs, type AuditCliOptions } from './analyze.js';
import { checkOutputs, reportPaths } from './output.js';
import { reportOptions, type ReportCliOptions } from './report-options.js';
import { runSession, type ReportingSession, type StoppedBy } from './session.js';
import { parseDuration, parseMaxFlows } from './workers.js';

export interface CollectCliOptions extends ReportCliOptions, AuditCliOptions {
  listen: string;
  reportEvery: string;
  duration?: string;
  /** One of formatNames('live'). */
  format: string;
  table?: string;
  out?: string;
  idleTimeout: string;
  maxFlows: string;
}

/** The socket's receive buffer asked for: a burst of exports waits there while a report is made (the kernel may give less). */
const RECEIVE_BUFFER = 8 << 20;

/** `udp:9995`, `udp:127.0.0.1:2055`, `udp:[::1]:4739`, `udp:collector.example:9995` → where to bind. */
export function parseListen(text: string): { host: string; port: number; ipv6: boolean } {
  const m = /^udp:(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535 || (m[1] !== undefined && !isIPv6(m[1]))) {
    throw new InputError(`--listen ${text}: expected udp:[HOST:]PORT, e.g. udp:9995, udp:127.0.0.1:2055 or udp:[::1]:4739`);
  }
  const host = m[1] ?? m[2] ?? '0.0.0.0';
  return { host, port, ipv6: m[1] !== undefined };
}

/** A bind error as one line. */
function bindError(text: string, e: NodeJS.ErrnoException): InputError {
  const why: Record<string, string> = {
    EADDRINUSE: 'the port is in use (another collector?)',
    EACCES: 'permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE)',
    EADDRNOTAVAIL: 'no such address on this host',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the host name cannot be resolved now',
  };
  return new InputError(`--listen ${text}: cannot listen: ${why[e.code ?? ''] ?? e.message}`);
}

/**
 * Datagrams the kernel dropped for the socket bound to `port` (its receive buffer was full): the last
 * column of /proc/net/udp (udp6 for an IPv6 socket), which counts from the socket's creation. Null
 * where the system has no such file or does not list the socket.
 */
function socketDrops(ipv6: boolean, port: number): number | null {
  let text: string;
  try {
    text = readFileSync(ipv6 ? '/proc/net/udp6' : '/proc/net/udp', 'utf8');
  } catch {
    return null;
  }
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 13 && f[1]!.endsWith(local) && /^\d+$/.test(f[12]!)) return Number(f[12]);
  }
  return null;
}

/** Binds the listener; resolves once it is bound. */
function listen(text: string, onMessage: (buf: Buffer, from: string) => void): Promise<{ socket: Socket; label: string; drops: () => number | null }> {
  const where = parseListen(text);
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: where.ipv6 ? 'udp6' : 'udp4', recvBufferSize: RECEIVE_BUFFER });
    socket.once('error', (e) => {
      socket.close();
      reject(bindError(text, e as NodeJS.ErrnoException));
    });
    // An IPv4 exporter heard on a dual-stack socket is ::ffff:a.b.c.d: its address is a.b.c.d.
    socket.on('message', (m, r) => onMessage(m, r.address.startsWith('::ffff:') && r.address.includes('.') ? r.address.slice(7) : r.address));
    socket.bind(where.port, where.host, () => {
      socket.removeAllListeners('error');
      // Errors after the bind (none are expected of a UDP receiver) are the OS's: say them, keep listening.
      socket.on('error', (e) => process.stderr.write(`flowaudit: --listen ${text}: ${e.message}\n`));
      const a = socket.address();
      const v6 = a.family === 'IPv6';
      resolve({ socket, label: `udp:${v6 ? `[${a.address}]` : a.address}:${a.port}`, drops: () => socketDrops(v6, a.port) });
    });
  });
}

/** `flowaudit collect`: listen, collect, report; `setExit(1)` when --fail-on matched in the final report. */
export async function runCollect(opts: CollectCliOptions, version: string, setExit: (code: number) => void): Promise<void> {
  parseListen(opts.listen);
  const writer: LiveWriter = tableWriter(writerFor('live', opts.format), opts.format, opts.table);
  checkOutputs(reportPaths(writer, opts.out), auditInputFiles(opts));
  const inputs = loadAuditInputs(opts);
  const reportEvery = parseDuration('--report-every', opts.reportEvery);
  const duration = opts.duration === undefined ? null : parseDuration('--duration', opts.duration);
  const idleMs = parseDuration('--idle-timeout', opts.idleTimeout) * 1000;
  const maxFlows = parseMaxFlows(opts.maxFlows);
  const layout = reportOptions(opts);
  // The collector is named by the bound listener (port 0 picks one); a datagram that came before it is held for it.
  let collector: ExportCollector | null = null;
  const held: Array<[Buffer, string]> = [];
  const { socket, label, drops } = await listen(opts.listen, (m, from) => (collector ? collector.datagram(m, from) : held.push([m, from])));
  collector = new ExportCollector({ source: label, idleMs, maxFlows });
  for (const [m, from] of held.splice(0)) collector.datagram(m, from);
  // Said once bound: an exporter pointed here from now on is heard (with port 0, this is the port).
  process.stderr.write(`flowaudit collect: listening on ${label}\n`);
  const session = new CollectSession(label, socket, drops, collector, { ...inputs, version });
  await runSession(session, { writer, out: opts.out, layout, reportEvery, duration, failOn: inputs.failOn }, setExit);
}

type SessionInputs = ReturnType<typeof loadAuditInputs> & { version: string };

/** One listener and what it has collected. */
class CollectSession implements ReportingSession {
  private readonly startedMs = Date.now();

  constructor(
    private readonly label: string,
    private readonly socket: Socket,
    private readonly drops: () => number | null,
    private readonly collector: ExportCollector,
    private readonly opts: SessionInputs,
  ) {}

  housekeeping(): void {
    // Nothing waits on the clock: conversations end by the records' own clock, as records come.
  }

  /** The socket's drops, read while it is open (the final report keeps the last count). */
  private lastDrops: number | null = null;

  async stop(): Promise<void> {
    // A moment for what is still in the socket's buffer to be read, then every conversation finishes.
    await new Promise((r) => setTimeout(r, 250));
    this.lastDrops = this.drops();
    this.socket.close();
    this.collector.close();
  }

  report(n: number, final: boolean, stoppedBy: StoppedBy): AuditReport {
    const now = Date.now();
    const c = this.collector.counts();
    const collect: CollectSection = {
      listen: this.label,
      started: iso(this.startedMs),
      at: iso(now),
      elapsedSeconds: Number(((now - this.startedMs) / 1000).toFixed(3)),
      report: n,
      final,
      stoppedBy,
      datagrams: c.datagrams,
      bytes: c.bytes,
      garbage: c.garbage,
      exporters: c.exporters,
      conversations: { open: c.open, finished: c.finished, evicted: c.evicted, limit: c.limit },
    };
    const o = this.opts;
    // Flow records carry no payload: no negotiation is read, so no grant is made.
    if (!final) this.lastDrops = this.drops();
    return audit(this.collector.report(this.lastDrops), {
      catalogs: o.catalogs, background: o.background, roleMap: o.roleMap, site: o.site, infer: o.infer, minSpan: o.minSpan,
      grants: [], waivers: o.waivers, version: o.version, overrides: o.overrides, collect,
    });
  }
}

function iso(ms: number): string {
  const sec = Math.floor(ms / 1000);
  return formatIso(sec, (ms - sec * 1000) * 1e6, 3);
}
