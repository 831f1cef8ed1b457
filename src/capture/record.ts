/**
 * One packet as a reader yields it: a view into the chunk the reader holds, never a copy. The object is
 * reused for every packet, so a consumer must take what it needs before it returns.
 */
export class PacketRecord {
  /** The chunk that holds the packet bytes; valid only during the callback. */
  buf: Buffer = Buffer.alloc(0);
  /** Offset of the first captured byte in `buf`. */
  off = 0;
  capLen = 0;
  /** Length of the packet on the wire (what counters count). */
  origLen = 0;
  /** Whole seconds since 1970 (after pcapng if_tsoffset). */
  tsSec = 0;
  /** Nanoseconds within the second. */
  tsNs = 0;
  /** False for pcapng simple packet blocks, which carry no timestamp. */
  hasTs = true;
  /** Fraction digits the interface's resolution justifies (6 for µs, 9 for ns). */
  tsDigits = 6;
  linkType = 0;
  /** Interface index, counted across all sections of a pcapng file (0 for classic pcap). */
  ifIndex = 0;
  /** 1-based packet number within the file, as tshark numbers frames. */
  recordNo = 0;
  /** Byte offset of the record (or block) in the decompressed capture stream. */
  fileOffset = 0;
  /** pcapng EPB direction flag: 0 not given, 1 inbound, 2 outbound. */
  direction = 0;
}

export type PacketSink = (rec: PacketRecord) => void;

/** What an interface of a capture is: link type, snaplen and timestamp resolution. */
export interface InterfaceInfo {
  index: number;
  section: number;
  linkType: number;
  snaplen: number;
  ticksPerSec: number;
  tsDigits: number;
  tsOffset: number;
  name?: string;
  /** From the last interface-statistics block, where the file has one. */
  stats?: { received?: number; droppedByInterface?: number; droppedByOs?: number; filterAccepted?: number; delivered?: number };
}

/** Facts about one capture file that a report shows beside its flows. */
export interface CaptureFacts {
  file: string;
  /** 'live': an interface through libpcap (`flowaudit live`). */
  format: 'pcap' | 'pcapng' | 'live';
  gzip: boolean;
  byteOrder: 'little' | 'big' | 'mixed';
  interfaces: InterfaceInfo[];
  packets: number;
  bytes: number;
  capturedBytes: number;
}

/**
 * A format parser consumes complete records in buf[start, end) and returns how far it got. When it
 * stops for lack of bytes it sets `need` to the number of bytes (from the returned offset) it needs.
 * At `eof` it reports a trailing partial record as damage and consumes everything.
 */
export interface FormatParser {
  need: number;
  /** Stream offset at which to stop: no record starting at or after it is parsed (for shards). */
  stopAt: number;
  /** Set when parsing stopped at `stopAt`. */
  stopped: boolean;
  parse(buf: Buffer, start: number, end: number, bufBase: number, eof: boolean): number;
  facts(): Omit<CaptureFacts, 'file' | 'gzip'>;
  /** Records (frames, as tshark numbers them) parsed so far. */
  records(): number;
  /**
   * The first offset at or after `from` where a record (block) starts, judged by the records that
   * follow it chaining correctly; -1 if none in buf[from, end).
   */
  findBoundary(buf: Buffer, from: number, end: number, bufBase: number, eof: boolean): number;
}

/** Largest record or block we accept: larger lengths are treated as corruption, not as data. */
export const MAX_RECORD = 16 * 1024 * 1024;
