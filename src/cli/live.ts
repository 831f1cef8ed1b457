import { closeSync, openSync, rmSync } from 'node:fs';
import { audit, AuditReport, LiveSection } from '../audit/index.js';
import { listInterfaces, LiveCapture, LiveStats, wallTime } from '../capture/live.js';
import type { CaptureFacts, PacketRecord } from '../capture/record.js';
import { PcapngWriter, WrittenPacket } from '../capture/writer.js';
import { InputError } from '../core/errors.js';
import { formatIso } from '../core/time.js';
import { IpfixUdpExporter } from '../export/ipfix-udp.js';
import { PacketView } from '../decode/index.js';
import { FlowFolds } from '../flow/aggregate.js';
import { packetSink } from '../flow/pipeline.js';
import { newFlowRun } from '../flow/run.js';
import type { RetireLimits } from '../flow/table.js';
import { Inspectors } from '../inspect/index.js';
import { LiveWriter, tableWriter, writerFor } from '../report/formats.js';
import { auditInputFiles, loadAuditInputs, type AuditCliOptions } from './analyze.js';
import { parseDuration } from './workers.js';
import { checkOutputs, reportPaths } from './output.js';
import { runSession, type ReportingSession, type StoppedBy } from './session.js';
import { terminalSafe } from '../report/escape.js';
import { reportOptions, type ReportCliOptions } from './report-options.js';

/** `catalog` is optional: --list-interfaces needs none. */
export interface LiveCliOptions extends ReportCliOptions, Omit<AuditCliOptions, 'catalog'> {
  interface?: string;
  listInterfaces?: boolean;
  catalog?: string[];
  bpf?: string;
  snaplen: string;
  bufferSize: string;
  reportEvery: string;
  duration?: string;
  /** One of formatNames('live'). */
  format: string;
  /** --table: one table of a format of several (csv). */
  table?: string;
  out?: string;
  write?: string;
  /** `ipfix://HOST:PORT`: every flow that leaves the table (and the open ones at the end) to this collector. */
  export?: string;
  vlanKey: boolean;
  idleTimeout: string;
  tcpIdleTimeout: string;
  maxFlows: string;
}

/** A whole number with an optional k or M: thousands and millions, or KiB and MiB for `bytes`. */
function parseCount(flag: string, text: string, min: number, max: number, bytes = false): number {
  const m = /^(\d+)([kKmM])?$/.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  const scale = unit === 'k' ? (bytes ? 1024 : 1e3) : unit === 'm' ? (bytes ? 1 << 20 : 1e6) : 1;
  const n = m ? Number(m[1]) * scale : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(`${flag} ${text}: expected a whole number from ${min} to ${max}`);
  return n;
}

/** `flowaudit live`: the session from its options; `setExit(1)` when --fail-on matched in the final report. */
export async function runLive(opts: LiveCliOptions, version: string, setExit: (code: number) => void): Promise<void> {
  if (opts.listInterfaces) {
    const lines = listInterfaces().map((d) => `${terminalSafe(d.name).padEnd(18)} ${d.addresses.map((a) => a.addr).join(' ') || '-'}${d.description ? `  (${terminalSafe(d.description)})` : ''}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  if (!opts.interface) throw new InputError('live needs --interface NAME (see flowaudit live --list-interfaces)');
  if (!opts.catalog?.length) throw new InputError('live needs --catalog ID (see flowaudit catalog list)');
  const writer: LiveWriter = tableWriter(writerFor('live', opts.format), opts.format, opts.table);
  checkOutputs(reportPaths(writer, opts.out), [...auditInputFiles({ ...opts, catalog: opts.catalog }), opts.write]);
  const inputs = loadAuditInputs({ ...opts, catalog: opts.catalog });
  const reportEvery = parseDuration('--report-every', opts.reportEvery);
  const duration = opts.duration === undefined ? null : parseDuration('--duration', opts.duration);
  const snaplen = parseCount('--snaplen', opts.snaplen, 64, 65535);
  const bufferSize = parseCount('--buffer-size', opts.bufferSize, 65536, 2 ** 31 - 1, true);
  const maxFlows = parseCount('--max-flows', opts.maxFlows, 1000, 100_000_000);
  const layout = reportOptions(opts);
  const limits: RetireLimits = {
    idle: parseDuration('--idle-timeout', opts.idleTimeout),
    tcpIdle: parseDuration('--tcp-idle-timeout', opts.tcpIdleTimeout),
    // A finished TCP flow lingers briefly so that late retransmissions and the last ACKs join it.
    finishedIdle: 30,
    maxFlows,
  };
  const exporter = opts.export === undefined ? null : await IpfixUdpExporter.open(opts.export);
  let session: LiveSession;
  try {
    session = new LiveSession(opts.interface, { ...inputs, version, snaplen, bufferSize, limits, bpf: opts.bpf ?? null, write: opts.write ?? null, vlanKey: opts.vlanKey, exporter });
  } catch (e) {
    await exporter?.close();
    throw e;
  }
  await runSession(session, { writer, out: opts.out, layout, reportEvery, duration, failOn: inputs.failOn }, setExit);
}

interface SessionOptions extends ReturnType<typeof loadAuditInputs> {
  version: string;
  snaplen: number;
  bufferSize: number;
  limits: RetireLimits;
  bpf: string | null;
  write: string | null;
  vlanKey: boolean;
  exporter: IpfixUdpExporter | null;
}

/** One live capture: the interface, the flow table and inspectors it feeds, folds, the pcapng copy and the IPFIX export. */
class LiveSession implements ReportingSession {
  private readonly run: ReturnType<typeof newFlowRun>;
  private readonly inspectors = new Inspectors();
  private readonly folds: FlowFolds;
  private readonly capture: LiveCapture;
  private readonly facts: CaptureFacts;
  private readonly label: string;
  private writer: PcapngWriter | null = null;
  private writeFd: number | null = null;
  private lastStats: LiveStats;
  private expired = 0;
  private evicted = 0;

  constructor(
    private readonly iface: string,
    private readonly opts: SessionOptions,
  ) {
    this.run = newFlowRun({ vlanInKey: opts.vlanKey });
    this.folds = new FlowFolds(opts.limits.maxFlows);
    this.label = `live:${iface}`;
    const view = new PacketView();
    const { sink } = packetSink(this.run, this.label, view, (v, r, f) => this.inspectors.onPacket(v, r, f));
    const table = this.run.table;
    // Past the limit by a quarter, the table is trimmed at once rather than at the next chore.
    const trimAt = Math.ceil(opts.limits.maxFlows * 1.25);
    let onPacket = (rec: PacketRecord) => {
      sink(rec);
      if (table.size > trimAt) this.retire();
    };
    if (opts.write !== null) {
      try {
        this.writeFd = openSync(opts.write, 'w');
      } catch (e) {
        throw new InputError(`--write ${opts.write}: ${(e as Error).message}`);
      }
      const pkt: WrittenPacket = { data: Buffer.alloc(0), tsSec: 0, tsNs: 0 };
      const counted = onPacket;
      onPacket = (rec: PacketRecord) => {
        counted(rec);
        pkt.data = rec.buf.subarray(rec.off, rec.off + rec.capLen);
        pkt.origLen = rec.origLen;
        pkt.tsSec = rec.tsSec;
        pkt.tsNs = rec.tsNs;
        this.writer!.write(pkt);
      };
    }
    try {
      this.capture = new LiveCapture({ iface, snaplen: opts.snaplen, bufferSize: opts.bufferSize, ...(opts.bpf ? { bpf: opts.bpf } : {}) }, onPacket);
    } catch (e) {
      if (this.writeFd !== null) {
        closeSync(this.writeFd);
        rmSync(opts.write!, { force: true });
      }
      throw e;
    }
    if (this.writeFd !== null) {
      this.writer = new PcapngWriter(this.writeFd, { interfaces: [{ linkType: this.capture.linkType, snaplen: opts.snaplen, name: iface }] });
    }
    this.facts = {
      file: this.label,
      format: 'live',
      gzip: false,
      byteOrder: 'little',
      interfaces: [{ index: 0, section: 0, linkType: this.capture.linkType, snaplen: opts.snaplen, ticksPerSec: 1e6, tsDigits: 6, tsOffset: 0, name: iface }],
      packets: 0,
      bytes: 0,
      capturedBytes: 0,
    };
    this.run.captures.push(this.facts);
    this.lastStats = this.capture.stats();
  }

  /** Flows that are over leave the table and are folded per conversation (and exported, each as it was). */
  private retire(): void {
    const [sec] = wallTime();
    const { expired, evicted } = this.run.table.retire(sec, this.opts.limits);
    const exporter = this.opts.exporter;
    for (const f of expired) {
      exporter?.add(f);
      this.folds.add(f);
    }
    for (const f of evicted) {
      exporter?.add(f);
      this.folds.add(f);
    }
    this.expired += expired.length;
    this.evicted += evicted.length;
  }

  housekeeping(): void {
    this.retire();
    this.writer?.flush();
    // A collector hears of a flow within a chore's interval of its leaving, not when a message fills.
    this.opts.exporter?.flush();
  }

  async stop(): Promise<void> {
    // Counters now, then a moment for what is still in the kernel's buffer to arrive.
    this.capture.stats();
    await new Promise((r) => setTimeout(r, 250));
    this.capture.close();
    this.lastStats = this.capture.stats();
    if (this.writer !== null && this.writeFd !== null) {
      const [sec, ns] = wallTime();
      const s = this.lastStats;
      this.writer.statistics(0, sec, ns, {
        received: s.interface ? s.interface.rxPackets + s.interface.txPackets : s.captured,
        droppedByInterface: s.droppedByInterface,
        ...(s.notDelivered !== null ? { droppedByOs: s.notDelivered } : {}),
        delivered: s.captured,
      });
      this.writer.flush();
      closeSync(this.writeFd);
      this.writeFd = null;
    }
    // The flows still in the table go to the collector as they stand now, then the socket closes.
    const exporter = this.opts.exporter;
    if (exporter !== null) {
      for (const batch of this.run.table.exportBatches()) for (const f of batch) exporter.add(f);
      await exporter.close();
    }
  }

  report(n: number, final: boolean, stoppedBy: StoppedBy): AuditReport {
    if (!final) this.lastStats = this.capture.stats();
    const s = this.lastStats;
    const [sec, ns] = wallTime();
    const facts = this.facts;
    facts.packets = s.captured;
    facts.bytes = s.capturedBytes;
    facts.capturedBytes = s.capturedBytes;
    facts.interfaces[0]!.stats = {
      ...(s.interface ? { received: s.interface.rxPackets + s.interface.txPackets } : {}),
      droppedByInterface: s.droppedByInterface,
      droppedByOs: s.notDelivered ?? 0,
      delivered: s.captured,
    };
    const c = this.capture;
    // The window observed is from the start of the capture until now, packets or not.
    const run = this.run;
    const window = { ...run, firstSec: c.startedSec, firstNs: c.startedNs, lastSec: sec, lastNs: ns, tsDigits: 6 };
    const elapsed = sec - c.startedSec + (ns - c.startedNs) / 1e9;
    const live: LiveSection = {
      interface: this.iface,
      linkType: c.linkType,
      bpf: this.opts.bpf,
      snaplen: this.opts.snaplen,
      bufferSize: this.opts.bufferSize,
      started: formatIso(c.startedSec, c.startedNs, 6),
      at: formatIso(sec, ns, 6),
      elapsedSeconds: Number(elapsed.toFixed(3)),
      report: n,
      final,
      stoppedBy,
      captured: s.captured,
      capturedBytes: s.capturedBytes,
      cut: s.cut,
      interfaceCounters: s.interface,
      droppedByInterface: s.droppedByInterface,
      notDelivered: s.notDelivered,
      flowTable: { active: run.table.activeFlows, limit: this.opts.limits.maxFlows, expired: this.expired, evicted: this.evicted, folded: this.folds.folded - this.folds.dropped, foldedRecords: this.folds.size, foldedOverflow: this.folds.dropped },
      write: this.opts.write,
      export: this.opts.exporter?.section() ?? null,
    };
    return audit(window, {
      catalogs: this.opts.catalogs,
      background: this.opts.background,
      roleMap: this.opts.roleMap,
      site: this.opts.site,
      infer: this.opts.infer,
      minSpan: this.opts.minSpan,
      grants: this.inspectors.grants,
      failed: this.inspectors.failed,
      inspectorStats: this.inspectors.stats,
      waivers: this.opts.waivers,
      version: this.opts.version,
      overrides: this.opts.overrides,
      foldedFlows: this.folds.records(),
      live,
    });
  }
}
