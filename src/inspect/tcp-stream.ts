import type { PacketRecord } from '../capture/record.js';
import { formatIPv4, formatIPv6 } from '../core/addr.js';
import type { PacketView } from '../decode/view.js';
import { REASSEMBLY } from './bounds.js';

/**
 * The one TCP stream reassembler every TCP inspector reads through (gopacket's tcpassembly, Zeek's
 * reassembler): per connection and direction, bytes in sequence order; retransmitted and overlapping
 * bytes are trimmed and reported, so an inspector can count a retransmitted answer instead of reading
 * it twice; a gap (bytes the capture never saw) resynchronises on the next segment; state is freed on
 * RST and on FIN from both sides, and bounded in streams and buffered bytes.
 */

/** 0: client to server, 1: server to client. */
export type Direction = 0 | 1;

/** The two ends of a connection, as text made once per connection. */
export interface TcpConnection {
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
  ipVersion: number;
}

/** Where the bytes being delivered arrived: the packet that completed them. */
export interface SegmentAt {
  file: string;
  recordNo: number;
  tsSec: number;
  tsNs: number;
}

/** What an inspector plugs into the reassembler for one connection. */
export interface StreamConsumer {
  /**
   * In-order bytes of one direction: `data[from, to)`, of which `data[from]` is at stream offset
   * `offset` (bytes since the first one seen in that direction). Returns how many bytes from `from`
   * it consumed; the rest is offered again, with what follows, once more bytes arrive.
   */
  data(dir: Direction, data: Buffer, from: number, to: number, offset: number, at: SegmentAt): number;
  /** Bytes `[offset, offset + length)` of a direction were seen again (a retransmission or an overlap). */
  retransmitted(dir: Direction, offset: number, length: number): void;
  /** Bytes were lost before what comes next: whatever the consumer held unconsumed is gone. */
  gap(dir: Direction): void;
  /**
   * The connection is over (FIN both ways, RST, a new SYN) or was given up at the bounds (`atBound`);
   * `unread` bytes had been delivered or held but not consumed (a PDU the connection cut short).
   */
  close(unread: number, atBound: boolean): void;
}

/** Bounds of the reassembler. */
export interface ReassemblyLimits {
  /** Connections followed at once; beyond, the least recently seen is dropped. */
  maxStreams: number;
  /** Unconsumed plus out-of-order bytes one direction may hold; beyond, the connection is dropped. */
  maxBufferedBytes: number;
  /** The same over all connections; beyond, the least recently seen connections are dropped. */
  maxTotalBytes: number;
  /** Out-of-order segments held per direction while waiting for the bytes before them. */
  maxOutOfOrder: number;
}

/** The bounds of bounds.ts (REASSEMBLY); tests pass smaller ones. */
export const DEFAULT_LIMITS: ReassemblyLimits = { ...REASSEMBLY };

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

interface Held {
  seq: number;
  bytes: Buffer;
}

/** One direction of a connection. */
class HalfStream {
  started = false;
  /** Sequence number of the first byte seen (stream offset 0). */
  base = 0;
  /** Next expected sequence number. */
  next = 0;
  /** Contiguous bytes not yet consumed: buf[start, end), buf[start] at stream offset `offset`. */
  buf: Buffer = EMPTY;
  start = 0;
  end = 0;
  offset = 0;
  /** Segments beyond a hole, in arrival order. */
  held: Held[] = [];
  heldBytes = 0;
  finished = false;

  buffered(): number {
    return this.end - this.start + this.heldBytes;
  }

  /**
   * Adds bytes after the unconsumed ones; returns how many bytes were copied. The buffer doubles when
   * full, so a stream of 1-byte segments costs each byte a constant number of copies, not a join of
   * everything held.
   */
  append(bytes: Buffer, from: number, to: number): number {
    const n = to - from;
    if (n <= 0) return 0;
    let copied = n;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
    if (this.end + n > this.buf.length) {
      const live = this.end - this.start;
      const cap = Math.max(1024, (live + n) * 2);
      const bigger = Buffer.allocUnsafe(cap);
      this.buf.copy(bigger, 0, this.start, this.end);
      copied += live;
      this.buf = bigger;
      this.start = 0;
      this.end = live;
    }
    bytes.copy(this.buf, this.end, from, to);
    this.end += n;
    return copied;
  }

  consume(n: number): void {
    this.start += n;
    this.offset += n;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      // Let a big buffer go once it has been read: a connection mostly idles between PDUs.
      if (this.buf.length > 64 * 1024) this.buf = EMPTY;
    }
  }

  /** Forgets unconsumed bytes (a gap): the next delivered byte is at stream offset `offset`. */
  drop(offset: number): void {
    this.start = 0;
    this.end = 0;
    this.offset = offset;
  }
}

const EMPTY = Buffer.alloc(0);

class Connection {
  readonly halves: [HalfStream, HalfStream] = [new HalfStream(), new HalfStream()];
  constructor(
    readonly key: string,
    readonly consumer: StreamConsumer,
    readonly owner: number,
    readonly serverPort: number,
  ) {}

  /** What this connection adds to the reassembler's total, as last counted. */
  counted = 0;

  bytes(): number {
    return this.halves[0].buffered() + this.halves[1].buffered();
  }
}

function address(v: PacketView, a: Uint32Array): string {
  return v.ipVersion === 4 ? formatIPv4(a[0]!) : formatIPv6(a[0]!, a[1]!, a[2]!, a[3]!);
}

/** Signed distance from sequence number b to a, modulo 2^32. */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export class StreamReassembler {
  private readonly conns = new Map<string, Connection>();
  private readonly limits: ReassemblyLimits;
  private readonly at: SegmentAt = { file: '', recordNo: 0, tsSec: 0, tsNs: 0 };
  /** Bytes buffered over all connections. */
  private total = 0;
  /** Bytes copied into stream buffers so far: the reassembler's work, linear in the bytes it is given. */
  copiedBytes = 0;

  /**
   * @param open makes the consumer of a new connection for the inspector `owner`.
   * @param dropped is told when a connection of `owner` is given up at the bounds.
   */
  constructor(
    private readonly open: (owner: number, conn: TcpConnection) => StreamConsumer,
    private readonly dropped: (owner: number) => void,
    limits: Partial<ReassemblyLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Connections followed now (for tests of the bounds). */
  get size(): number {
    return this.conns.size;
  }

  /** Bytes buffered now over all connections (for tests of the bounds). */
  get bufferedBytes(): number {
    return this.total;
  }

  /** Ends a connection: its consumer is told, its bytes no longer count; `atBound` counts it as dropped. */
  private end(conn: Connection, atBound: boolean): void {
    if (this.conns.get(conn.key) !== conn) return;
    this.conns.delete(conn.key);
    this.total -= conn.counted;
    conn.consumer.close(conn.bytes(), atBound);
    if (atBound) this.dropped(conn.owner);
  }

  /**
   * One TCP segment of a connection whose server port is `serverPort`, read by the inspector `owner`.
   * The side on `serverPort` is the server (the destination when both are).
   */
  segment(v: PacketView, rec: PacketRecord, file: string, owner: number, serverPort: number): void {
    const conn = this.connection(v, owner, serverPort);
    if (conn === null) return;
    this.process(conn, v, rec, file);
    if (this.conns.get(conn.key) === conn) {
      const now = conn.bytes();
      this.total += now - conn.counted;
      conn.counted = now;
    }
    // Over the total bound: the least recently seen connections go first (this one is the most recent).
    while (this.total > this.limits.maxTotalBytes && this.conns.size > 0) this.end(this.conns.values().next().value as Connection, true);
  }

  /** The connection a segment belongs to, made for a segment with payload; null when there is nothing to follow. */
  private connection(v: PacketView, owner: number, serverPort: number): Connection | null {
    const toServer = v.dstPort === serverPort;
    const c = toServer ? v.src : v.dst;
    const s = toServer ? v.dst : v.src;
    const cport = toServer ? v.srcPort : v.dstPort;
    // Text keys: only the inspectors' few ports reach here, never the bulk of the traffic.
    const key = v.ipVersion === 4 ? `${c[0]}:${cport}>${s[0]}:${serverPort}` : `${c[0]},${c[1]},${c[2]},${c[3]}:${cport}>${s[0]},${s[1]},${s[2]},${s[3]}:${serverPort}`;
    const flags = v.tcpFlags;
    let conn = this.conns.get(key);
    if (flags & SYN && !(flags & ACK)) {
      // A new connection on the same ports: whatever was followed before is over.
      if (conn) this.end(conn, false);
      return null;
    }
    if (!conn) {
      if (v.payloadLen === 0) return null; // a bare FIN, RST or ACK of a connection we hold nothing for
      if (this.conns.size >= this.limits.maxStreams) this.end(this.conns.values().next().value as Connection, true);
      const info: TcpConnection = { client: address(v, c), clientPort: cport, server: address(v, s), serverPort, ipVersion: v.ipVersion };
      conn = new Connection(key, this.open(owner, info), owner, serverPort);
      this.conns.set(key, conn);
    } else {
      // Least recently seen first: re-inserting moves the connection to the end of the map's order.
      this.conns.delete(key);
      this.conns.set(key, conn);
    }
    return conn;
  }

  private process(conn: Connection, v: PacketView, rec: PacketRecord, file: string): void {
    const dir: Direction = v.dstPort === conn.serverPort ? 0 : 1;
    const flags = v.tcpFlags;
    const len = v.payloadLen;
    const at = this.at;
    at.file = file;
    at.recordNo = rec.recordNo;
    at.tsSec = rec.tsSec;
    at.tsNs = rec.tsNs;
    const h = conn.halves[dir];
    if (len > 0) {
      // A request-answer protocol speaks in turns: when one side sends new data while the other's
      // bytes wait behind a hole, the hole is bytes the capture lost, not bytes still on their way.
      const other = conn.halves[dir === 0 ? 1 : 0];
      if (other.held.length) {
        this.flushHeld(conn, dir === 0 ? 1 : 0, other);
        if (this.conns.get(conn.key) !== conn) return;
      }
      const seq = v.tcpSeq >>> 0;
      if (!h.started) {
        h.started = true;
        h.base = seq;
        h.next = seq;
      }
      this.accept(conn, dir, h, seq, rec.buf, v.payloadOff, v.payloadOff + len);
      if (this.conns.get(conn.key) !== conn) return; // dropped at the bounds
    }
    if (flags & RST) {
      this.end(conn, false);
      return;
    }
    if (flags & FIN) {
      if (h.held.length) this.flushHeld(conn, dir, h);
      h.finished = true;
      if (conn.halves[0].finished && conn.halves[1].finished) this.end(conn, false);
    }
  }

  private accept(conn: Connection, dir: Direction, h: HalfStream, seq: number, buf: Buffer, from: number, to: number): void {
    let d = seqDiff(seq, h.next);
    if (d < 0) {
      // Bytes already delivered: trim them and say so.
      const old = Math.min(-d, to - from);
      conn.consumer.retransmitted(dir, (seqDiff(seq, h.base) >>> 0), old);
      from += old;
      seq = (seq + old) >>> 0;
      d = 0;
      if (from >= to) return;
    }
    if (d > 0) {
      // A hole before this segment: hold it until the hole fills, or give the hole up at the bound.
      if (h.held.some((x) => x.seq === seq)) {
        conn.consumer.retransmitted(dir, seqDiff(seq, h.base) >>> 0, to - from);
        return;
      }
      h.held.push({ seq, bytes: Buffer.from(buf.subarray(from, to)) });
      h.heldBytes += to - from;
      if (h.held.length > this.limits.maxOutOfOrder || h.buffered() > this.limits.maxBufferedBytes) this.flushHeld(conn, dir, h);
      return;
    }
    this.copiedBytes += h.append(buf, from, to);
    h.next = (h.next + (to - from)) >>> 0;
    if (h.held.length) this.drainHeld(conn, dir, h);
    this.deliver(conn, dir, h);
  }

  /** Moves held segments that now follow the delivered bytes into the stream. */
  private drainHeld(conn: Connection, dir: Direction, h: HalfStream): void {
    let moved = true;
    while (moved && h.held.length) {
      moved = false;
      for (let i = 0; i < h.held.length; i++) {
        const x = h.held[i]!;
        const d = seqDiff(x.seq, h.next);
        if (d > 0) continue;
        h.held.splice(i, 1);
        h.heldBytes -= x.bytes.length;
        const skip = -d;
        if (skip > 0) conn.consumer.retransmitted(dir, seqDiff(x.seq, h.base) >>> 0, Math.min(skip, x.bytes.length));
        if (skip < x.bytes.length) {
          this.copiedBytes += h.append(x.bytes, skip, x.bytes.length);
          h.next = (h.next + (x.bytes.length - skip)) >>> 0;
        }
        moved = true;
        break;
      }
    }
  }

  /** Gives up the hole before the earliest held segment: the consumer is told, and reading resumes there. */
  private flushHeld(conn: Connection, dir: Direction, h: HalfStream): void {
    while (h.held.length) {
      let first = 0;
      for (let i = 1; i < h.held.length; i++) if (seqDiff(h.held[i]!.seq, h.held[first]!.seq) < 0) first = i;
      const x = h.held[first]!;
      h.drop(seqDiff(x.seq, h.base) >>> 0);
      conn.consumer.gap(dir);
      h.next = x.seq;
      this.drainHeld(conn, dir, h);
      this.deliver(conn, dir, h);
      if (this.conns.get(conn.key) !== conn) return;
    }
  }

  private deliver(conn: Connection, dir: Direction, h: HalfStream): void {
    if (h.end > h.start) {
      const used = conn.consumer.data(dir, h.buf, h.start, h.end, h.offset, this.at);
      if (used > 0) h.consume(Math.min(used, h.end - h.start));
    }
    if (h.buffered() > this.limits.maxBufferedBytes) {
      // The consumer cannot make sense of this much: give the connection up rather than grow.
      this.end(conn, true);
    }
  }
}
