/**
 * A collector of flow export datagrams (`flowaudit collect`), without the socket: each datagram is
 * decoded (NetFlow v5, v9, IPFIX; templates and sequence numbers per exporter address and
 * observation domain), its records stitched into conversations, and each finished conversation goes
 * into a RecordRun (kept to --max-flows, then folded per conversation). Memory is bounded by the
 * stitcher's open conversations and the run's folds, never by datagrams or records. A report sees the
 * finished conversations and the open ones as they stand (report()).
 */
import type { ExportSourceFacts } from '../../flow/record.js';
import { RecordRun } from '../record-run.js';
import { FlowExportDecoder } from './decoder.js';
import { MESSAGE_READERS } from './messages.js';
import { addConversation, endOf, exportSourceFacts } from './run.js';
import { FlowStitcher, IDLE_MS, MAX_CONVERSATIONS } from './stitch.js';

export interface CollectorOptions {
  /** The listener's name (`udp:127.0.0.1:9995`): the source of every place in the damage. */
  source: string;
  /** Conversations kept before folding, and held open at once by the stitcher. */
  maxFlows?: number;
  /** A conversation with no record for this long (by the records' clock) is over. */
  idleMs?: number;
}

/** What the collector has received, for the report's `collect` section. */
export interface CollectorCounts {
  datagrams: number;
  bytes: number;
  /** Datagrams that are no NetFlow v5, v9 or IPFIX message by their version word (each one place of the damage too: unknown-version, or message-truncated for one shorter than it). */
  garbage: number;
  /** Distinct exporter addresses heard from. */
  exporters: number;
  /** Conversations open in the stitcher, and finished (idle, at the end, or early at its bound). */
  open: number;
  finished: number;
  evicted: number;
  limit: number;
}

export class ExportCollector {
  private readonly run: RecordRun<ExportSourceFacts>;
  private readonly decoder: FlowExportDecoder;
  private readonly stitcher: FlowStitcher;
  private readonly facts: ExportSourceFacts;
  private readonly exporters = new Set<string>();
  private readonly limit: number;
  private datagrams = 0;
  private bytes = 0;
  private garbage = 0;
  private untimed = 0;
  private finished = 0;

  constructor(private readonly opts: CollectorOptions) {
    this.run = new RecordRun<ExportSourceFacts>('collect: IPFIX, NetFlow v9 and v5', opts.maxFlows);
    this.limit = opts.maxFlows ?? MAX_CONVERSATIONS;
    this.stitcher = new FlowStitcher({
      idleMs: opts.idleMs ?? IDLE_MS,
      maxConversations: this.limit,
      onFlow: (f) => {
        this.finished++;
        if (!addConversation(this.run, f, 0)) this.untimed++;
      },
    });
    this.decoder = new FlowExportDecoder({ source: opts.source, damage: this.run.damage, onRecord: (v) => this.stitcher.add(v) });
    this.facts = exportSourceFacts(opts.source, 'udp', this.decoder, this.stitcher, 0, 0);
    this.run.files.push(this.facts);
  }

  /** One datagram from `exporter` (its address). Damage is counted, never thrown. */
  datagram(buf: Uint8Array, exporter: string): void {
    this.datagrams++;
    this.bytes += buf.length;
    if (buf.length < 2 || !MESSAGE_READERS.has((buf[0]! << 8) | buf[1]!)) this.garbage++;
    else this.exporters.add(exporter);
    this.decoder.decodeMessage(buf, exporter);
    this.stitcher.expire();
  }

  /** The end of input: data sets still waiting for a template are given up, every conversation finishes. */
  close(): void {
    this.decoder.flush();
    this.stitcher.flush();
  }

  /** What the next report reads: the finished conversations and the open ones as they stand; `socketDrops`: what the listener's socket lost, where the system says. */
  report(socketDrops: number | null = null): RecordRun<ExportSourceFacts> {
    const open = this.stitcher.openFlows().map((record) => {
      const [endSec, endNs] = endOf(record);
      return { record, endSec, endNs };
    });
    const untimed = this.untimed + open.filter((o) => o.record.start === null).length;
    // A datagram that is no flow export at all (a stray sender, a scan) is counted apart: it is no damaged export.
    const unreadable = this.run.damage.total - this.garbage;
    Object.assign(this.facts, exportSourceFacts(this.opts.source, 'udp', this.decoder, this.stitcher, unreadable, untimed), { garbage: this.garbage });
    if (socketDrops !== null) this.facts.socketDrops = socketDrops;
    return this.run.including(open);
  }

  counts(): CollectorCounts {
    return {
      datagrams: this.datagrams, bytes: this.bytes, garbage: this.garbage, exporters: this.exporters.size,
      open: this.stitcher.size, finished: this.finished, evicted: this.stitcher.stats.evicted, limit: this.limit,
    };
  }
}
