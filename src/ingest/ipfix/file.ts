/**
 * IPFIX files (RFC 5655: a file is a stream of IPFIX messages, one after another) read as an async
 * iterator of records (readIpfixFile) or of stitched flows (readIpfixFlows), and written from messages
 * (writeIpfixFile for a list, IpfixFileWriter for a stream of them in bounded memory). The file is read in chunks; a message cut by a
 * chunk's end waits for the next. Damage is counted in the decoder's tally with the file's byte
 * offset: a header that is no IPFIX message header is skipped by looking for the next plausible one
 * (version 10 and a length that fits), counted `file-resync` once per stretch skipped.
 */
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { formatIPv4, formatIPv6 } from '../../core/addr.js';
import { u16be } from '../../core/bytes.js';
import { FlowExportDecoder, type DecoderOptions } from './decoder.js';
import type { ExportRecord, ExportRecordView } from './view.js';
import type { FlowRecord } from '../../flow/record.js';
import { FlowStitcher, type StitcherOptions } from './stitch.js';

/** The view's record as plain data, addresses as text. */
export function plainRecord(v: ExportRecordView): ExportRecord {
  const six = v.ipVersion === 6;
  const text = (w: Uint32Array) => (six ? formatIPv6(w[0]!, w[1]!, w[2]!, w[3]!) : formatIPv4(w[0]!));
  const r: ExportRecord = {
    version: v.version, exporter: v.exporter, domain: v.domain, ipVersion: six ? 6 : 4, src: text(v.src), dst: text(v.dst),
    srcPort: v.srcPort >= 0 ? v.srcPort : null, dstPort: v.dstPort >= 0 ? v.dstPort : null, proto: v.proto,
    packets: v.packets, bytes: v.bytes, tcpFlags: v.tcpFlags, biflow: v.biflow, reversePackets: v.reversePackets,
    reverseBytes: v.reverseBytes, reverseTcpFlags: v.reverseTcpFlags, startMs: Number.isNaN(v.startMs) ? null : v.startMs,
    endMs: Number.isNaN(v.endMs) ? null : v.endMs, samplingInterval: v.samplingInterval, message: v.message, offset: v.offset,
  };
  if (v.icmpType >= 0) {
    r.icmpType = v.icmpType;
    r.icmpCode = Math.max(0, v.icmpCode);
  }
  if (v.vlan >= 0) r.vlan = v.vlan;
  if (v.flowDirection >= 0) r.flowDirection = v.flowDirection;
  if (v.biflowDirection >= 0) r.biflowDirection = v.biflowDirection;
  return r;
}

const HEADER = 16;

/**
 * The messages of an IPFIX file through `dec`, one chunk at a time: yields after each chunk so that
 * the caller hands on what the chunk's records made (memory stays bounded by a chunk).
 */
async function* decodeFile(path: string, dec: FlowExportDecoder): AsyncGenerator<void> {
  let held: Buffer = Buffer.alloc(0);
  /** File offset of held[0]. */
  let base = 0;
  let skipping = false;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      let p = 0;
      while (held.length - p >= HEADER) {
        const version = u16be(held, p);
        const length = u16be(held, p + 2);
        if (version !== 10 || length < HEADER) {
          if (!skipping) dec.damage.add('file-resync', path, dec.stats.messages + 1, base + p);
          skipping = true;
          p++;
          continue;
        }
        if (held.length - p < length) break;
        skipping = false;
        dec.decodeMessage(held, path, p, p + length, base);
        p += length;
      }
      held = held.subarray(p);
      base += p;
      yield;
    }
  } catch {
    // A file that cannot be read on (removed, an I/O error) ends here, counted where it stopped.
    dec.damage.add('file-read-error', path, dec.stats.messages + 1, base);
  }
  if (held.length > 0) dec.damage.add(skipping ? 'file-resync' : 'message-truncated', path, dec.stats.messages + 1, base);
  dec.flush();
}

/**
 * Reads an IPFIX file's records. Iterate it (`for await (const r of reader)`); afterwards
 * `reader.decoder` holds the counts (stats, domainStates: sampling and sequence loss) and
 * `reader.decoder.damage` every damaged thing with its byte offset. The file's messages are one
 * exporter's, named by the path: their templates and sequence numbers are per observation domain.
 */
export class IpfixFileReader implements AsyncIterable<ExportRecord> {
  readonly decoder: FlowExportDecoder;
  private batch: ExportRecord[] = [];

  constructor(readonly path: string, opts: Omit<DecoderOptions, 'onRecord'> = {}) {
    this.decoder = new FlowExportDecoder({ ...opts, source: opts.source ?? path, onRecord: (v) => this.batch.push(plainRecord(v)) });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ExportRecord> {
    for await (const _ of decodeFile(this.path, this.decoder)) {
      const out = this.batch;
      this.batch = [];
      yield* out;
    }
    const out = this.batch;
    this.batch = [];
    yield* out;
  }
}

/**
 * An IPFIX file as flowaudit's flows: records stitched into conversations as they are read (no
 * record is kept), each yielded when it goes idle or at the end. `reader.decoder` has the decoder's
 * counts and damage, `reader.stitcher.stats` the stitcher's.
 */
export class IpfixFlowReader implements AsyncIterable<FlowRecord> {
  readonly decoder: FlowExportDecoder;
  readonly stitcher: FlowStitcher;
  private batch: FlowRecord[] = [];

  constructor(readonly path: string, opts: Omit<DecoderOptions, 'onRecord'> & Omit<StitcherOptions, 'onFlow'> = {}) {
    this.stitcher = new FlowStitcher({ ...opts, onFlow: (f) => this.batch.push(f) });
    this.decoder = new FlowExportDecoder({ ...opts, source: opts.source ?? path, onRecord: (v) => this.stitcher.add(v) });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FlowRecord> {
    for await (const _ of decodeFile(this.path, this.decoder)) {
      this.stitcher.expire();
      const out = this.batch;
      this.batch = [];
      yield* out;
    }
    this.stitcher.flush();
    const out = this.batch;
    this.batch = [];
    yield* out;
  }
}

/** An IPFIX file's flows, stitched (see IpfixFlowReader for its counts). */
export function readIpfixFlows(path: string, opts?: Omit<DecoderOptions, 'onRecord'> & Omit<StitcherOptions, 'onFlow'>): IpfixFlowReader {
  return new IpfixFlowReader(path, opts);
}

/** An IPFIX file's records as an async iterator (see IpfixFileReader for its counts). */
export function readIpfixFile(path: string, opts?: Omit<DecoderOptions, 'onRecord'>): IpfixFileReader {
  return new IpfixFileReader(path, opts);
}

/** Writes IPFIX messages into a file (RFC 5655); other versions have no file format and are left out. Returns the messages written. */
export async function writeIpfixFile(path: string, messages: Uint8Array[]): Promise<number> {
  const kept = messages.filter((m) => m.length >= HEADER && u16be(m, 0) === 10);
  await writeFile(path, Buffer.concat(kept));
  return kept.length;
}

/** Messages streamed into an IPFIX file through a buffer of `bufferBytes` (the benchmark's generator writes gigabytes so). */
export class IpfixFileWriter {
  private readonly fd: number;
  private readonly buf: Buffer;
  private used = 0;
  /** Bytes written to the file so far. */
  bytes = 0;

  constructor(readonly path: string, bufferBytes = 8 << 20) {
    this.fd = openSync(path, 'w');
    this.buf = Buffer.allocUnsafe(bufferBytes);
  }

  write(message: Uint8Array): void {
    if (this.used + message.length > this.buf.length) this.drain();
    if (message.length > this.buf.length) {
      writeSync(this.fd, message);
      this.bytes += message.length;
      return;
    }
    this.buf.set(message, this.used);
    this.used += message.length;
  }

  close(): void {
    this.drain();
    closeSync(this.fd);
  }

  private drain(): void {
    let o = 0;
    while (o < this.used) o += writeSync(this.fd, this.buf, o, this.used - o);
    this.bytes += this.used;
    this.used = 0;
  }
}
