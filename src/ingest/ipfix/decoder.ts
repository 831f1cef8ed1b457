/**
 * IPFIX (RFC 7011), NetFlow v9 (RFC 3954) and NetFlow v5 messages → record views, read in place.
 * Never throws: every damaged thing is counted in the tally by a kebab-case reason with its place (the
 * source name, the message number, the byte offset), and the good records around it are kept.
 *
 * The version word picks the message reader (MESSAGE_READERS, one row a version). Templates are kept
 * per exporter and observation domain (templates.ts); sequence-number gaps are counted as loss per
 * domain in the unit each version numbers (IPFIX data records, v9 export packets, v5 flows).
 *
 * Data sets whose template is not known yet are buffered a short while (RFC 7011 §8 lets a
 * collector do so): over UDP a template can be overtaken by the data that uses it, and a collector
 * that starts listening mid-stream sees data before the exporter's next template refresh. A set waits
 * for at most PENDING_MESSAGES later messages of its domain, and all waiting sets hold at most
 * PENDING_BYTES; a set that is never decoded is counted `unknown-template` when it is given up.
 */
import { DamageTally } from '../../core/errors.js';
import { u16be, u32be } from '../../core/bytes.js';
import { compileTemplate, MAX_DOMAINS, MAX_TEMPLATES, PENDING_BYTES, PENDING_MESSAGES, TEMPLATE_LIFETIME_MS, VARIABLE, type DomainState, type Template } from './templates.js';

export { PENDING_BYTES, PENDING_MESSAGES, TEMPLATE_LIFETIME_MS };
import { ExportRecordView } from './view.js';
import { MESSAGE_READERS, type MessageContext, type MessageSink } from './messages.js';

export interface DecoderOptions {
  /** Called with the reused view for every flow record (the view is overwritten by the next one). */
  onRecord: (v: ExportRecordView) => void;
  /** The name places are reported under (the file, or the listener). */
  source?: string;
  damage?: DamageTally;
  templateLifetimeMs?: number;
}

export interface DecoderStats {
  messages: number;
  /** Flow records handed to onRecord. */
  records: number;
  optionsRecords: number;
  templates: number;
  optionsTemplates: number;
  /** A template id sent again with other fields (RFC 7011 §8.1: a change needs a withdrawal first; counted, the new one used). */
  templateChanges: number;
  withdrawals: number;
  expiredTemplates: number;
  /** Data sets decoded late, after their template arrived. */
  pendingDecoded: number;
  /** Sequence-number gaps: IPFIX data records, v9 export packets, v5 flows lost before the collector. */
  lostRecords: number;
  lostPackets: number;
  lostFlows: number;
}

interface PendingSet {
  domain: DomainState;
  templateId: number;
  bytes: Uint8Array;
  /** Offset of the set's body in its message (for places). */
  offset: number;
  context: MessageContext;
  /** The domain's message count when it was buffered. */
  at: number;
  /** The stream offset of its message (a file's). */
  base: number;
}

export class FlowExportDecoder implements MessageSink {
  readonly damage: DamageTally;
  readonly source: string;
  readonly stats: DecoderStats = {
    messages: 0, records: 0, optionsRecords: 0, templates: 0, optionsTemplates: 0, templateChanges: 0, withdrawals: 0,
    expiredTemplates: 0, pendingDecoded: 0, lostRecords: 0, lostPackets: 0, lostFlows: 0,
  };
  private readonly view = new ExportRecordView();
  private readonly domains = new Map<string, DomainState>();
  private pending: PendingSet[] = [];
  private pendingBytes = 0;
  private readonly onRecord: (v: ExportRecordView) => void;
  private readonly lifetime: number;
  /** Byte offset of the current message in its stream (a file's messages follow each other). */
  private base = 0;
  /** Data records of the current message (IPFIX sequence numbers count them); -1 once a set could not be counted. */
  private messageRecords = 0;
  /** Flow records of the current message (softflowd's sequence numbers count only them). */
  private messageFlows = 0;

  constructor(opts: DecoderOptions) {
    this.onRecord = opts.onRecord;
    this.source = opts.source ?? '';
    this.damage = opts.damage ?? new DamageTally();
    this.lifetime = opts.templateLifetimeMs ?? TEMPLATE_LIFETIME_MS;
  }

  /**
   * One message at buf[off, end) from `exporter` (its address: templates and sequence numbers are
   * per exporter). Returns the bytes the message took (its length for IPFIX, `end - off` for v5 and
   * v9 whose datagram is the message), or 0 when no message could be read there.
   */
  decodeMessage(buf: Uint8Array, exporter: string, off = 0, end = buf.length, streamOffset = 0): number {
    this.base = streamOffset;
    if (end - off < 4) {
      this.bad('message-truncated', this.stats.messages + 1, off);
      return 0;
    }
    const reader = MESSAGE_READERS.get(u16be(buf, off));
    if (reader === undefined) {
      this.bad('unknown-version', this.stats.messages + 1, off);
      return 0;
    }
    return reader(this, buf, off, end, exporter);
  }

  /** Every exporter/domain seen: sampling, loss, message and record counts. */
  domainStates(): DomainState[] {
    return [...this.domains.values()];
  }

  /** Gives up the data sets still waiting for a template (end of input): each counted `unknown-template`. */
  flush(): void {
    for (const p of this.pending) this.damage.add('unknown-template', this.source, p.context.message, p.base + p.offset);
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** @internal */
  bad(reason: string, message: number, offset: number): void {
    this.damage.add(reason, this.source, message, this.base + offset);
  }

  /** @internal */
  domain(exporter: string, version: number, id: number, message: number, offset: number): DomainState | undefined {
    const key = `${exporter}\u0000${version}\u0000${id}`;
    let d = this.domains.get(key);
    if (d === undefined) {
      if (this.domains.size >= MAX_DOMAINS) {
        this.bad('domain-bound', message, offset);
        return undefined;
      }
      d = {
        exporter, version, domain: id, templates: new Map(), lastSequence: NaN, lastAll: -1, lastFlows: -1, conventions: 0b1111, systemInitMs: NaN, sampling: 1, samplingSource: '',
        messages: 0, records: 0, lost: 0, sequenceBackwards: 0,
      };
      this.domains.set(key, d);
    }
    d.messages++;
    return d;
  }

  /**
   * A message's sequence number against the last one. RFC 7011 §3.1 counts the data records sent
   * before the message (RFC 3954: export packets, so one a message; v5: flows); softflowd 1.1.0
   * counts its flow records up to and including the message and leaves options records out. Which
   * convention an exporter follows is learnt: a step that some of the four conventions (before or
   * through the message, all data records or flow records only) explain keeps only those; a step
   * that none explains is a gap, measured by the first convention left, or a step back (reordering
   * or a restart), counted as such. `all` < 0: the message's records could not be counted (a set
   * without its template), and the next message starts the count again.
   */
  /** @internal */
  sequence(d: DomainState, seq: number, all: number, flows: number): void {
    if (!Number.isNaN(d.lastSequence) && d.lastAll >= 0 && all >= 0) {
      const expected = [d.lastSequence + d.lastAll, d.lastSequence + d.lastFlows, d.lastSequence + all, d.lastSequence + flows];
      let fits = 0;
      for (let i = 0; i < 4; i++) if (((expected[i]! >>> 0) === seq)) fits |= 1 << i;
      if (fits & d.conventions) d.conventions &= fits;
      else {
        let first = 0;
        while (first < 3 && !(d.conventions & (1 << first))) first++;
        const gap = (seq - expected[first]!) >>> 0;
        if (gap < 0x80000000) {
          d.lost += gap;
          if (d.version === 10) this.stats.lostRecords += gap;
          else if (d.version === 9) this.stats.lostPackets += gap;
          else this.stats.lostFlows += gap;
        } else d.sequenceBackwards++;
      }
    }
    d.lastSequence = seq;
    d.lastAll = all;
    d.lastFlows = flows;
  }

  // ---- template sets -------------------------------------------------------------------------

  /** @internal IPFIX set 2/3 or v9 set 0/1 at buf[off, end) (the set's body). */
  templateSet(d: DomainState, buf: Uint8Array, off: number, end: number, options: boolean, ctx: MessageContext): void {
    const ipfix = ctx.version === 10;
    let p = off;
    // Fewer than 4 bytes left is padding (RFC 7011 §3.3.1).
    while (end - p >= 4) {
      const id = u16be(buf, p);
      const count = u16be(buf, p + 2);
      let q = p + 4;
      let scope = 0;
      if (ipfix && count === 0) {
        this.withdraw(d, id, options, ctx, p);
        p = q;
        continue;
      }
      if (ipfix && options) {
        if (end - q < 2) return this.bad('template-truncated', ctx.message, p);
        scope = u16be(buf, q);
        q += 2;
        if (scope === 0 || scope > count) return this.bad('options-template-bad-scope', ctx.message, p);
      }
      let fields = count;
      if (!ipfix && options) {
        // v9 options template: scope and option lengths in bytes, four bytes a field (RFC 3954 §6.1).
        if (end - q < 2) return this.bad('template-truncated', ctx.message, p);
        const scopeBytes = count;
        const optionBytes = u16be(buf, q);
        q += 2;
        if (scopeBytes % 4 !== 0 || optionBytes % 4 !== 0) return this.bad('options-template-bad-length', ctx.message, p);
        scope = scopeBytes / 4;
        fields = scope + optionBytes / 4;
      }
      if (id < 256) return this.bad('template-bad-id', ctx.message, p);
      if (fields === 0) return this.bad('template-no-fields', ctx.message, p);
      const ids: number[] = [];
      const enterprises: number[] = [];
      const lengths: number[] = [];
      for (let i = 0; i < fields; i++) {
        if (end - q < 4) return this.bad('template-truncated', ctx.message, p);
        let fid = u16be(buf, q);
        const len = u16be(buf, q + 2);
        q += 4;
        let pen = 0;
        if (ipfix && fid & 0x8000) {
          if (end - q < 4) return this.bad('template-truncated', ctx.message, p);
          fid &= 0x7fff;
          pen = u32be(buf, q);
          q += 4;
        }
        // v9 has no variable-length fields: 65535 there is a (huge) fixed length, which no record fits.
        ids.push(fid);
        enterprises.push(pen);
        lengths.push(len);
      }
      // v9 options templates pad their set to four bytes after the one template.
      if (!ipfix && options) q = end;
      this.define(d, compileTemplate(id, options, ids, enterprises, lengths, ctx.exportMs), ctx, p);
      p = q;
    }
  }

  private define(d: DomainState, t: Template, ctx: MessageContext, offset: number): void {
    if (t.minLength === 0) return this.bad('template-zero-length', ctx.message, offset);
    const old = d.templates.get(t.id);
    if (old === undefined) {
      if (d.templates.size >= MAX_TEMPLATES) return this.bad('template-bound', ctx.message, offset);
    } else if (old.signature !== t.signature || old.options !== t.options) this.stats.templateChanges++;
    d.templates.set(t.id, t);
    if (t.options) this.stats.optionsTemplates++;
    else this.stats.templates++;
    this.decodePending(d, t.id);
  }

  /** RFC 7011 §8.1: a withdrawal of one template, or (id 2 or 3) of all templates or options templates of the domain. */
  private withdraw(d: DomainState, id: number, options: boolean, ctx: MessageContext, offset: number): void {
    this.stats.withdrawals++;
    if (id === 2 || id === 3) {
      for (const [tid, t] of d.templates) if (t.options === (id === 3)) d.templates.delete(tid);
      return;
    }
    if (id < 256) return this.bad('template-bad-id', ctx.message, offset);
    const t = d.templates.get(id);
    if (t === undefined || t.options !== options) return this.bad('withdrawal-of-unknown-template', ctx.message, offset);
    d.templates.delete(id);
  }

  // ---- data sets -----------------------------------------------------------------------------

  /** @internal A data set's body buf[off, end) for template `id`. */
  dataSet(d: DomainState, id: number, buf: Uint8Array, off: number, end: number, ctx: MessageContext): void {
    let t = d.templates.get(id);
    if (t !== undefined && ctx.exportMs - t.refreshedMs > this.lifetime) {
      d.templates.delete(id);
      this.stats.expiredTemplates++;
      this.bad('template-expired', ctx.message, off);
      t = undefined;
    }
    if (t === undefined) {
      this.messageRecords = -1;
      this.hold(d, id, buf, off, end, ctx);
      return;
    }
    const n = this.records(d, t, buf, off, end, ctx);
    if (this.messageRecords >= 0) this.messageRecords += n;
    if (!t.options) this.messageFlows += n;
  }

  private hold(d: DomainState, id: number, buf: Uint8Array, off: number, end: number, ctx: MessageContext): void {
    const size = end - off;
    if (this.pendingBytes + size > PENDING_BYTES) return this.bad('unknown-template', ctx.message, off);
    this.pending.push({ domain: d, templateId: id, bytes: buf.slice(off, end), offset: off, context: { ...ctx }, at: d.messages, base: this.base });
    this.pendingBytes += size;
  }

  private decodePending(d: DomainState, id: number): void {
    if (this.pending.length === 0) return;
    const keep: PendingSet[] = [];
    for (const p of this.pending) {
      if (p.domain === d && p.templateId === id) {
        this.pendingBytes -= p.bytes.length;
        this.stats.pendingDecoded++;
        const base = this.base;
        this.base = p.base;
        this.records(d, d.templates.get(id)!, p.bytes, 0, p.bytes.length, p.context, p.offset);
        this.base = base;
      } else keep.push(p);
    }
    this.pending = keep;
  }

  /** @internal Gives up the sets of domain `d` that waited PENDING_MESSAGES messages. */
  agePending(d: DomainState): void {
    if (this.pending.length === 0) return;
    const keep: PendingSet[] = [];
    for (const p of this.pending) {
      if (p.domain === d && d.messages - p.at >= PENDING_MESSAGES) {
        this.pendingBytes -= p.bytes.length;
        this.damage.add('unknown-template', this.source, p.context.message, p.base + p.offset);
      } else keep.push(p);
    }
    this.pending = keep;
  }

  /** The records of a data set; returns how many were read. `place` is the body's offset in its message when buf is a copy. */
  private records(d: DomainState, t: Template, buf: Uint8Array, off: number, end: number, ctx: MessageContext, place = off): number {
    const v = this.view;
    const lengths = t.lengths;
    const readers = t.readers;
    const variable = ctx.version === 10;
    let n = 0;
    let p = off;
    // What is left shorter than a record is padding (RFC 7011 §3.3.1; RFC 3954 §5.3).
    while (end - p >= t.minLength) {
      v.reset();
      let q = p;
      let ok = true;
      for (let i = 0; i < lengths.length; i++) {
        let len = lengths[i]!;
        if (len === VARIABLE && variable) {
          // RFC 7011 §7: one length byte, or 255 and two more.
          if (q >= end) { ok = false; break; }
          len = buf[q++]!;
          if (len === 255) {
            if (end - q < 2) { ok = false; break; }
            len = u16be(buf, q);
            q += 2;
          }
        }
        if (end - q < len) { ok = false; break; }
        const read = readers[i];
        if (read !== undefined) read(v, buf, q, len);
        q += len;
      }
      if (!ok) {
        this.bad('record-truncated', ctx.message, place + (p - off));
        break;
      }
      n++;
      if (t.options) this.optionsRecord(d, v);
      else this.flowRecord(d, v, ctx, place + (p - off));
      p = q;
    }
    return n;
  }

  private optionsRecord(d: DomainState, v: ExportRecordView): void {
    this.stats.optionsRecords++;
    if (!Number.isNaN(v.optSystemInitMs)) d.systemInitMs = v.optSystemInitMs;
    // RFC 5477 systematic count-based sampling: `interval` packets selected out of every interval + space.
    if (v.optPacketInterval > 0) {
      const rate = (v.optPacketInterval + v.optPacketSpace) / v.optPacketInterval;
      d.sampling = rate;
      d.samplingSource = 'options-record';
    } else if (v.recordSampling > 0) {
      d.sampling = v.recordSampling;
      d.samplingSource = 'options-record';
    }
  }

  private flowRecord(d: DomainState, v: ExportRecordView, ctx: MessageContext, offset: number): void {
    if (v.ipVersion === 0) return this.bad('record-without-addresses', ctx.message, offset);
    v.version = ctx.version;
    v.exporter = d.exporter;
    v.domain = d.domain;
    v.message = ctx.message;
    v.offset = this.base + offset;
    if (v.packets === 0 && !Number.isNaN(v.totalPackets)) v.packets = v.totalPackets;
    if (v.bytes === 0 && !Number.isNaN(v.totalBytes)) v.bytes = v.totalBytes;
    if (v.reversePackets === 0 && !Number.isNaN(v.reverseTotalPackets)) v.reversePackets = v.reverseTotalPackets;
    if (v.reverseBytes === 0 && !Number.isNaN(v.reverseTotalBytes)) v.reverseBytes = v.reverseTotalBytes;
    v.startMs = this.time(d, v.tStartMs, v.tStartUptime, v.tStartDeltaUs, ctx);
    v.endMs = this.time(d, v.tEndMs, v.tEndUptime, v.tEndDeltaUs, ctx);
    if (Number.isNaN(v.startMs)) v.startMs = v.endMs;
    if (Number.isNaN(v.endMs)) v.endMs = v.startMs;
    if (v.recordSampling > 0) {
      v.samplingInterval = v.recordSampling;
      if (d.samplingSource === '') {
        d.sampling = v.recordSampling;
        d.samplingSource = 'data-record';
      }
    } else v.samplingInterval = d.sampling;
    d.records++;
    this.stats.records++;
    this.onRecord(v);
  }

  /** A record time in Unix ms from whichever form it came in. */
  private time(d: DomainState, abs: number, uptime: number, deltaUs: number, ctx: MessageContext): number {
    if (!Number.isNaN(abs)) return abs;
    if (!Number.isNaN(uptime)) {
      if (ctx.version === 10) return Number.isNaN(d.systemInitMs) ? NaN : d.systemInitMs + uptime;
      // v5/v9: the header's uptime and Unix time are the same instant; sysUpTime is 32 bits of ms and wraps.
      let ago = (ctx.sysUptime - uptime) >>> 0;
      if (ago >= 0x80000000) ago -= 0x100000000;
      return ctx.exportMs - ago;
    }
    if (!Number.isNaN(deltaUs)) return ctx.exportMs - deltaUs / 1000;
    return NaN;
  }

  /** @internal One v5 record of 48 bytes at buf[o]; `place` is its offset in the message. */
  v5Record(d: DomainState, buf: Uint8Array, o: number, ctx: MessageContext, place: number): void {
    const v = this.view;
    v.reset();
    v.ipVersion = 4;
    v.src[0] = u32be(buf, o);
    v.dst[0] = u32be(buf, o + 4);
    v.packets = u32be(buf, o + 16);
    v.bytes = u32be(buf, o + 20);
    v.tStartUptime = u32be(buf, o + 24);
    v.tEndUptime = u32be(buf, o + 28);
    v.srcPort = u16be(buf, o + 32);
    v.dstPort = u16be(buf, o + 34);
    v.tcpFlags = buf[o + 37]!;
    v.proto = buf[o + 38]!;
    // v5 has no ICMP fields: exporters put type << 8 | code into the destination port (softflowd and Cisco do).
    if (v.proto === 1 || v.proto === 58) {
      v.icmpType = v.dstPort >> 8;
      v.icmpCode = v.dstPort & 0xff;
    }
    this.flowRecord(d, v, ctx, place);
  }

  // ---- messages ------------------------------------------------------------------------------

  /** @internal Runs the sets of a v9 or IPFIX message at buf[off, end). */
  sets(d: DomainState, buf: Uint8Array, off: number, end: number, ctx: MessageContext): void {
    const ipfix = ctx.version === 10;
    let p = off;
    while (end - p >= 4) {
      const id = u16be(buf, p);
      const length = u16be(buf, p + 2);
      if (length < 4) {
        // v9 pads a packet's end with zeros; a zero-length set anywhere else is damage, and no length to skip by.
        if (!ipfix && id === 0 && length === 0 && allZero(buf, p, end)) return;
        return this.bad('set-bad-length', ctx.message, p);
      }
      let setEnd = p + length;
      if (setEnd > end) {
        // Keep the complete records of a cut set.
        this.bad('set-truncated', ctx.message, p);
        setEnd = end;
      }
      const body = p + 4;
      if (ipfix ? id === 2 : id === 0) this.templateSet(d, buf, body, setEnd, false, ctx);
      else if (ipfix ? id === 3 : id === 1) this.templateSet(d, buf, body, setEnd, true, ctx);
      else if (id >= 256) this.dataSet(d, id, buf, body, setEnd, ctx);
      else this.bad('set-reserved-id', ctx.message, p);
      p = p + length;
    }
    if (ipfix && p < end) this.bad('set-truncated', ctx.message, p);
  }

  /** @internal */
  startRecords(): void {
    this.messageRecords = 0;
    this.messageFlows = 0;
  }

  /** @internal Flow data records of the message just read. */
  get flowsInMessage(): number {
    return this.messageFlows;
  }

  /** @internal Data records of the message just read, -1 when a set's could not be counted. */
  get recordsInMessage(): number {
    return this.messageRecords;
  }
}

function allZero(buf: Uint8Array, off: number, end: number): boolean {
  for (let i = off; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

