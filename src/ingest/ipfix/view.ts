/**
 * One flow export record as the decoders fill it: a view overwritten in place for every data record
 * (as decode/view.ts's PacketView is per packet), so decoding allocates nothing per record. Strings are
 * made only when a record is kept (stitch.ts, file.ts's plain records).
 */
export class ExportRecordView {
  /** 5, 9 or 10 (IPFIX). */
  version = 0;
  /** The exporter as the caller named it (its address) and the observation domain / source id / v5 engine. */
  exporter = '';
  domain = 0;
  /** 0 until an address element was read. */
  ipVersion = 0;
  /** IPv4 in word 0 (others 0); IPv6 as four big-endian words. */
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  /** -1: the record has no such element. */
  srcPort = -1;
  dstPort = -1;
  proto = -1;
  /** Forward direction (source → destination); reverse (RFC 5103) for a biflow. */
  packets = 0;
  bytes = 0;
  tcpFlags = 0;
  reversePackets = 0;
  reverseBytes = 0;
  reverseTcpFlags = 0;
  /** Whether any RFC 5103 reverse element was read: the record is a biflow. */
  biflow = false;
  /** Unix milliseconds (fractions kept), NaN when the record gives no time. */
  startMs = NaN;
  endMs = NaN;
  icmpType = -1;
  icmpCode = -1;
  vlan = -1;
  /** flowDirection (0 ingress, 1 egress), -1 absent. */
  flowDirection = -1;
  /** biflowDirection (0 arbitrary, 1 initiator, 2 reverseInitiator, 3 perimeter), -1 absent. */
  biflowDirection = -1;
  /** 1 in N packets sampled (1: unsampled or not stated), from the record or its domain's options. */
  samplingInterval = 1;
  /**
   * flowaudit's own elements (elements.ts FLOWAUDIT_PEN), -1 absent: the direction evidence (an index
   * of DIRECTION_CODES; the record's source is then the client) and the outcome (0 none, else an
   * index of OUTCOME_CODES + 1), as a flowaudit sensor decided them from the packets.
   */
  directionCode = -1;
  outcomeCode = -1;
  /** Where the record is: the message number (1-based, per decoder) and its byte offset in the message. */
  message = 0;
  offset = 0;

  // Time parts read from the record, resolved into startMs/endMs once the record is complete.
  /** @internal */ tStartMs = NaN;
  /** @internal */ tEndMs = NaN;
  /** @internal */ tStartUptime = NaN;
  /** @internal */ tEndUptime = NaN;
  /** @internal */ tStartDeltaUs = NaN;
  /** @internal */ tEndDeltaUs = NaN;
  /** @internal */ totalPackets = NaN;
  /** @internal */ totalBytes = NaN;
  /** @internal */ reverseTotalPackets = NaN;
  /** @internal */ reverseTotalBytes = NaN;
  /** @internal */ recordSampling = 0;
  /** @internal options-record fields: systemInitTimeMilliseconds, samplingPacketInterval/Space. */
  optSystemInitMs = NaN;
  /** @internal */ optPacketInterval = 0;
  /** @internal */ optPacketSpace = 0;

  reset(): void {
    this.ipVersion = 0;
    this.src.fill(0);
    this.dst.fill(0);
    this.srcPort = this.dstPort = this.proto = -1;
    this.packets = this.bytes = this.tcpFlags = 0;
    this.reversePackets = this.reverseBytes = this.reverseTcpFlags = 0;
    this.biflow = false;
    this.startMs = this.endMs = NaN;
    this.icmpType = this.icmpCode = this.vlan = this.flowDirection = this.biflowDirection = -1;
    this.samplingInterval = 1;
    this.directionCode = this.outcomeCode = -1;
    this.tStartMs = this.tEndMs = this.tStartUptime = this.tEndUptime = this.tStartDeltaUs = this.tEndDeltaUs = NaN;
    this.totalPackets = this.totalBytes = this.reverseTotalPackets = this.reverseTotalBytes = NaN;
    this.recordSampling = 0;
    this.optSystemInitMs = NaN;
    this.optPacketInterval = this.optPacketSpace = 0;
  }
}

/** A record kept as plain data (file.ts yields these; tests compare them). */
export interface ExportRecord {
  version: number;
  exporter: string;
  domain: number;
  ipVersion: 4 | 6;
  src: string;
  dst: string;
  srcPort: number | null;
  dstPort: number | null;
  proto: number;
  packets: number;
  bytes: number;
  tcpFlags: number;
  biflow: boolean;
  reversePackets: number;
  reverseBytes: number;
  reverseTcpFlags: number;
  /** Unix milliseconds, null when the record gives no time. */
  startMs: number | null;
  endMs: number | null;
  icmpType?: number;
  icmpCode?: number;
  vlan?: number;
  flowDirection?: number;
  biflowDirection?: number;
  samplingInterval: number;
  message: number;
  offset: number;
}
