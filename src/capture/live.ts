import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { InputError } from '../core/errors.js';
import { PacketRecord, PacketSink } from './record.js';

/** The part of the `cap` binding (libpcap) that live capture uses. */
interface CapHandle {
  open(device: string, filter: string, bufferSize: number, buffer: Buffer): string;
  close(): boolean;
  on(event: 'packet', fn: (nbytes: number, truncated: boolean) => void): void;
}
interface CapModule {
  Cap: { new (): CapHandle; deviceList(): CapDevice[] };
}
export interface CapDevice {
  name: string;
  description?: string;
  addresses: Array<{ addr: string; netmask?: string }>;
  flags?: string;
}

export interface LiveOptions {
  iface: string;
  /** A BPF expression, compiled by libpcap. */
  bpf?: string;
  /** Bytes of each packet kept for decoding and for --write. */
  snaplen: number;
  /** libpcap's kernel ring buffer, in bytes. */
  bufferSize: number;
}

/** The interface's own counters (from /sys/class/net/IFACE/statistics), as deltas since the capture opened. */
export interface InterfaceCounters {
  rxPackets: number;
  txPackets: number;
  rxDropped: number;
  rxMissed: number;
  rxFifo: number;
}

export interface LiveStats {
  /** Packets libpcap handed to flowaudit. */
  captured: number;
  capturedBytes: number;
  /** Packets longer than the snaplen, kept cut. */
  cut: number;
  /** null where the system has no counters for the interface (e.g. "any"). */
  interface: InterfaceCounters | null;
  /** Dropped by the interface or its driver before any capture could see them. */
  droppedByInterface: number;
  /**
   * Packets the interface counted that never reached flowaudit (the kernel's capture buffer ran full):
   * its packets in and out, as of the previous reading, minus what has been captured since it opened. Only without a BPF filter, which would make the
   * difference meaningless; null then. libpcap's own drop counter (pcap_stats) is not exposed by the
   * `cap` binding, hence the estimate.
   */
  notDelivered: number | null;
}

// DLT names the binding returns, as link-type numbers (the Linux DLT_RAW is 12).
const LINK_TYPES: Record<string, number> = { NULL: 0, ETHERNET: 1, IEEE802_11_RADIO: 127, LINKTYPE_LINUX_SLL: 113, RAW: 12 };

/** Wall-clock time as [seconds, nanoseconds] with microsecond resolution (what the clock can honestly tell). */
export function wallTime(): [number, number] {
  const t = performance.timeOrigin + performance.now();
  const sec = Math.floor(t / 1000);
  return [sec, Math.floor((t - sec * 1000) * 1000) * 1000];
}

let capModule: CapModule | null | undefined;

/** Binding handles whose open failed: kept referenced so that their destructor never runs (see LiveCapture). */
const failedHandles: unknown[] = [];

function loadCap(): CapModule {
  if (capModule === undefined) {
    try {
      capModule = createRequire(import.meta.url)('cap') as CapModule;
    } catch {
      capModule = null;
    }
  }
  if (capModule === null) {
    throw new InputError(
      'live capture needs the libpcap binding (npm package cap), which is not built here: install libpcap and its headers ' +
        '(Debian/Ubuntu: apt-get install libpcap-dev; Fedora: dnf install libpcap-devel), then run npm rebuild cap',
    );
  }
  return capModule;
}

/** The interfaces libpcap can capture on. */
export function listInterfaces(): CapDevice[] {
  return loadCap().Cap.deviceList();
}

function readCounters(iface: string): InterfaceCounters | null {
  const read = (name: string) => {
    try {
      return Number(readFileSync(`/sys/class/net/${iface}/statistics/${name}`, 'utf8').trim()) || 0;
    } catch {
      return NaN;
    }
  };
  const c = { rxPackets: read('rx_packets'), txPackets: read('tx_packets'), rxDropped: read('rx_dropped'), rxMissed: read('rx_missed_errors'), rxFifo: read('rx_fifo_errors') };
  return Number.isNaN(c.rxPackets) ? null : c;
}

function permissionHint(iface: string): string {
  return (
    `capturing on ${iface} is not permitted: it needs root, or the capabilities CAP_NET_RAW and CAP_NET_ADMIN; ` +
    'run as root, or grant them to node: sudo setcap cap_net_raw,cap_net_admin=eip "$(readlink -f "$(command -v node)")"'
  );
}

/**
 * A live interface through libpcap (the `cap` binding): promiscuous, with an optional BPF filter and a
 * kernel buffer of the given size. Every packet is handed to the sink as a PacketRecord over the one
 * buffer the binding fills, so nothing is copied or allocated per packet. The binding gives no
 * per-packet timestamp, so packets are stamped when they reach JavaScript (immediate mode keeps that
 * within the delivery latency, typically well under a millisecond).
 */
export class LiveCapture {
  readonly linkType: number;
  readonly startedSec: number;
  readonly startedNs: number;
  private readonly cap: CapHandle;
  private readonly buf: Buffer;
  private readonly rec = new PacketRecord();
  private readonly base: InterfaceCounters | null;
  private captured = 0;
  private capturedBytes = 0;
  private cut = 0;
  private prevSeen = 0;
  private closed = false;

  constructor(
    private readonly opts: LiveOptions,
    sink: PacketSink,
  ) {
    const mod = loadCap();
    const devices = mod.Cap.deviceList();
    if (!devices.some((d) => d.name === opts.iface)) {
      throw new InputError(`no such interface: ${opts.iface} (interfaces: ${devices.map((d) => d.name).join(', ') || 'none'}; see flowaudit live --list-interfaces)`);
    }
    // The binding always asks the kernel for 65535 bytes; the snaplen is applied here.
    this.buf = Buffer.alloc(65535);
    this.cap = new mod.Cap();
    let lt: string;
    try {
      lt = this.cap.open(opts.iface, opts.bpf ?? '', opts.bufferSize, this.buf);
    } catch (e) {
      // cap's native destructor stops a poll handle that a failed open never started: if the
      // handle is garbage-collected, the process dies of a segfault (seen in gdb: Pcap::~Pcap →
      // uv_poll_stop). Held until exit, it is never collected.
      failedHandles.push(this.cap);
      const msg = (e as Error).message;
      if (/not permitted|permission/i.test(msg)) throw new InputError(permissionHint(opts.iface));
      if (opts.bpf && /filter|syntax|parse|expression/i.test(msg)) throw new InputError(`--bpf ${JSON.stringify(opts.bpf)}: libpcap cannot compile it: ${msg}`);
      if (/no such device/i.test(msg)) throw new InputError(`no such interface: ${opts.iface} (${msg})`);
      throw new InputError(`cannot capture on ${opts.iface}: ${msg}`);
    }
    // Counted from after the open: a packet between the two readings may be captured without being
    // in the base, never the other way round, so the estimate of lost packets errs low, never high.
    this.base = readCounters(opts.iface);
    const named = LINK_TYPES[lt];
    const unknown = /^Unknown linktype (\d+)$/.exec(lt);
    this.linkType = named ?? (unknown ? Number(unknown[1]) : -1);
    [this.startedSec, this.startedNs] = wallTime();
    const rec = this.rec;
    rec.buf = this.buf;
    rec.off = 0;
    rec.linkType = this.linkType;
    rec.tsDigits = 6;
    rec.hasTs = true;
    const snaplen = opts.snaplen;
    this.cap.on('packet', (nbytes: number) => {
      // wallTime() inlined: no array per packet.
      const t = performance.timeOrigin + performance.now();
      const sec = Math.floor(t / 1000);
      rec.tsSec = sec;
      rec.tsNs = Math.floor((t - sec * 1000) * 1000) * 1000;
      rec.origLen = nbytes;
      rec.capLen = nbytes > snaplen ? snaplen : nbytes;
      if (nbytes > snaplen) this.cut++;
      rec.recordNo = ++this.captured;
      rec.fileOffset = this.capturedBytes;
      this.capturedBytes += nbytes;
      sink(rec);
    });
  }

  /**
   * The counters so far. Packets still on their way through the kernel's buffer are not drops, so
   * "not delivered" compares what is captured now with what the interface had counted at the previous
   * call: anything counted then and still not here is lost. Call it on a timer, and once more after a
   * short drain when stopping.
   */
  stats(): LiveStats {
    const now = readCounters(this.opts.iface);
    const base = this.base;
    const prevSeen = this.prevSeen;
    const counters = now && base
      ? {
          rxPackets: now.rxPackets - base.rxPackets,
          txPackets: now.txPackets - base.txPackets,
          rxDropped: now.rxDropped - base.rxDropped,
          rxMissed: now.rxMissed - base.rxMissed,
          rxFifo: now.rxFifo - base.rxFifo,
        }
      : null;
    const seen = counters ? counters.rxPackets + counters.txPackets : 0;
    this.prevSeen = seen;
    return {
      captured: this.captured,
      capturedBytes: this.capturedBytes,
      cut: this.cut,
      interface: counters,
      droppedByInterface: counters ? counters.rxDropped + counters.rxMissed + counters.rxFifo : 0,
      notDelivered: counters && !this.opts.bpf ? Math.max(0, prevSeen - this.captured) : null,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cap.close();
  }
}
