import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketRecord } from '../src/capture/record.js';
import { PacketView } from '../src/decode/view.js';
import { Direction, ReassemblyLimits, StreamConsumer, StreamReassembler } from '../src/inspect/tcp-stream.js';

/** The shared TCP reassembler on its own: what a consumer is handed, segment by segment. */

const FIN = 0x01;
const RST = 0x04;
const ACK = 0x10;

class Recorder implements StreamConsumer {
  readonly bytes: [number[], number[]] = [[], []];
  readonly offsets: Array<[Direction, number]> = [];
  readonly resent: Array<[Direction, number, number]> = [];
  readonly gaps: Direction[] = [];
  /** How many bytes to leave unconsumed each time (a consumer waiting for the rest of a PDU). */
  keep = 0;
  data(dir: Direction, data: Buffer, from: number, to: number, offset: number): number {
    const used = Math.max(0, to - from - this.keep);
    this.offsets.push([dir, offset]);
    for (let i = from; i < from + used; i++) this.bytes[dir].push(data[i]!);
    return used;
  }
  retransmitted(dir: Direction, offset: number, length: number): void {
    this.resent.push([dir, offset, length]);
  }
  gap(dir: Direction): void {
    this.gaps.push(dir);
  }
  closed = 0;
  unread = -1;
  close(unread: number): void {
    this.closed++;
    this.unread = unread;
  }
}

function harness(limits: Partial<ReassemblyLimits> = {}) {
  const consumers: Recorder[] = [];
  let dropped = 0;
  const r = new StreamReassembler(
    () => {
      const c = new Recorder();
      consumers.push(c);
      return c;
    },
    () => dropped++,
    limits,
  );
  const v = new PacketView();
  const rec = new PacketRecord();
  let n = 0;
  /** A segment of client port `cport` to (dir 0) or from (dir 1) the server's port 135. */
  const send = (dir: Direction, seq: number, payload: number[] | string, flags = ACK, cport = 50000) => {
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : Buffer.from(payload);
    v.reset();
    v.ipVersion = 4;
    v.proto = 6;
    v.src[0] = dir === 0 ? 0x0a000005 : 0x0a000009;
    v.dst[0] = dir === 0 ? 0x0a000009 : 0x0a000005;
    v.srcPort = dir === 0 ? cport : 135;
    v.dstPort = dir === 0 ? 135 : cport;
    v.tcpFlags = flags;
    v.tcpSeq = seq >>> 0;
    v.payloadOff = 0;
    v.payloadLen = bytes.length;
    rec.buf = bytes;
    rec.recordNo = ++n;
    r.segment(v, rec, 'f', 0, 135);
  };
  return { r, send, consumers, dropped: () => dropped };
}

const text = (b: number[]) => Buffer.from(b).toString('latin1');

describe('the shared TCP reassembler', () => {
  it('puts out-of-order segments in order and delivers each byte once', () => {
    const h = harness();
    h.send(0, 100, 'abc');
    h.send(0, 106, 'ghi'); // ahead of a hole
    h.send(0, 103, 'def'); // fills it
    expect(text(h.consumers[0]!.bytes[0])).toBe('abcdefghi');
    expect(h.consumers[0]!.gaps).toEqual([]);
  });

  it('trims retransmissions and overlaps and reports them by stream offset', () => {
    const h = harness();
    h.send(1, 5000, '0123456789');
    h.send(1, 5000, '0123456789'); // the whole segment again
    h.send(1, 5005, '56789ABCDE'); // half old, half new
    const c = h.consumers[0]!;
    expect(text(c.bytes[1])).toBe('0123456789ABCDE');
    expect(c.resent).toEqual([
      [1, 0, 10],
      [1, 5, 5],
    ]);
  });

  it('a hole the capture lost is given up when the other side speaks, and reading resumes after it', () => {
    const h = harness();
    h.send(0, 1, 'request1');
    h.send(1, 1, 'answer1');
    h.send(1, 18, 'answer2-second-half'); // bytes 8..18 were never captured
    h.send(0, 9, 'request2');
    const c = h.consumers[0]!;
    expect(c.gaps).toEqual([1]);
    expect(text(c.bytes[1])).toBe('answer1answer2-second-half');
    expect(c.offsets.filter(([d]) => d === 1).map(([, o]) => o)).toEqual([0, 17]);
  });

  it('gives a hole up when too many segments wait behind it', () => {
    const h = harness({ maxOutOfOrder: 2 });
    h.send(0, 1, 'a');
    h.send(0, 10, 'x');
    h.send(0, 11, 'y');
    expect(h.consumers[0]!.gaps).toEqual([]);
    h.send(0, 12, 'z');
    expect(h.consumers[0]!.gaps).toEqual([0]);
    expect(text(h.consumers[0]!.bytes[0])).toBe('axyz');
  });

  it('offers unconsumed bytes again with what follows, and works across the 2^32 sequence wrap', () => {
    const h = harness();
    h.consumers.length = 0;
    h.send(0, 0xfffffffe, 'ab');
    h.consumers[0]!.keep = 1; // waits for more than it has
    h.send(0, 0, 'cd');
    h.consumers[0]!.keep = 0;
    h.send(0, 2, 'ef');
    expect(text(h.consumers[0]!.bytes[0])).toBe('abcdef');
    h.send(0, 0xffffffff, 'bcd'); // old bytes across the wrap
    expect(h.consumers[0]!.resent).toEqual([[0, 1, 3]]);
  });

  it('frees a connection on RST and on FIN from both sides; a SYN starts over', () => {
    const h = harness();
    h.send(0, 1, 'x', ACK, 1);
    h.send(0, 1, 'x', ACK, 2);
    h.send(0, 1, 'x', ACK, 3);
    expect(h.r.size).toBe(3);
    h.send(1, 7, [], RST | ACK, 1);
    h.send(0, 2, [], FIN | ACK, 2);
    expect(h.r.size).toBe(2);
    h.send(1, 7, [], FIN | ACK, 2);
    h.send(0, 1, [], 0x02, 3); // a new SYN on the same ports
    expect(h.r.size).toBe(0);
    expect(h.consumers.map((c) => c.closed)).toEqual([1, 1, 1]);
  });

  it('keeps the bytes of all connections under the total bound, dropping the least recently seen', () => {
    const h = harness({ maxTotalBytes: 100 });
    for (let port = 1; port <= 3; port++) {
      h.send(0, 1, 'a', ACK, port);
      h.consumers[port - 1]!.keep = 1000; // holds everything it is given
      h.send(0, 2, 'x'.repeat(40), ACK, port);
    }
    expect(h.dropped()).toBe(1);
    expect(h.r.size).toBe(2);
    expect(h.r.bufferedBytes).toBe(80);
    expect(h.consumers[0]!.closed).toBe(1);
    expect(h.consumers[0]!.unread).toBe(40);
    h.send(1, 9, [], RST | ACK, 2);
    h.send(1, 9, [], RST | ACK, 3);
    expect(h.r.bufferedBytes).toBe(0);
  });

  it('drops the least recently seen connection at the stream bound, and a stream that buffers too much', () => {
    const h = harness({ maxStreams: 2, maxBufferedBytes: 100 });
    h.send(0, 1, 'a', ACK, 1);
    h.send(0, 1, 'a', ACK, 2);
    h.send(0, 2, 'b', ACK, 1); // 1 is now the most recent
    h.send(0, 1, 'a', ACK, 3); // 2 goes
    expect(h.dropped()).toBe(1);
    expect(h.r.size).toBe(2);
    h.consumers[2]!.keep = 1000; // consumes nothing
    h.send(0, 2, 'x'.repeat(150), ACK, 3);
    expect(h.dropped()).toBe(2);
    expect(h.r.size).toBe(1);
  });

  it('property: any order, duplication and overlap of the segments of a stream delivers its bytes once, in order', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.array(fc.nat(199), { maxLength: 8 }), fc.array(fc.nat(1000)), (data, cuts, order) => {
        const points = [...new Set([0, ...cuts.map((c) => c % data.length), data.length])].sort((a, b) => a - b);
        const segs = points.slice(1).map((end, i) => [points[i]!, end] as const);
        // Overlapping copies: each segment extended by a few bytes into the next.
        const sent = [...segs, ...segs.map(([s, e]) => [s, Math.min(data.length, e + 3)] as const)];
        // Shuffled, but the first segment first (it sets where the stream starts) and every byte sent at least once.
        const rest = sent.slice(1).map((s, i) => ({ s, k: order[i] ?? i })).sort((a, b) => a.k - b.k).map((x) => x.s);
        const h = harness({ maxOutOfOrder: 64 });
        for (const [s, e] of [sent[0]!, ...rest]) h.send(0, 1000 + s, [...data.subarray(s, e)]);
        expect(Buffer.from(h.consumers[0]!.bytes[0]).equals(Buffer.from(data))).toBe(true);
        expect(h.consumers[0]!.gaps).toEqual([]);
      }),
      { numRuns: 300, seed: 3 },
    );
  });
});
