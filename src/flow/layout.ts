/**
 * The words of a flow in the flow table's typed arrays, by name: each flow has KEY words (also inline
 * in its hash slot), HOT doubles (the counters every packet updates, side by side in one or two cache
 * lines) and META words, plus one ICMP and one VLAN word. "A" and "B" are the two sides of the
 * normalised key: A is the lower (address, port). `const enum`s, so the compiled code reads plain
 * offsets.
 */

/** Key words: protocol, IP version and whether it has ports (KeyWord0), the A and B addresses (4 words each), ports, VLAN. */
export const enum Key {
  Meta = 0,
  A = 1,
  B = 5,
  /** A's port in the high half, B's in the low half. */
  Ports = 9,
  /** The outermost VLAN id + 1 with --vlan-key, otherwise 0. */
  Vlan = 10,
  /** Words a flow. */
  W = 11,
}

/**
 * Doubles a flow: packets and bytes from A and from B, first and last second, first and last
 * nanosecond, and where its first and last packet are in the input (framePlace: which file, which
 * frame as tshark numbers them).
 */
export const enum Hot {
  PacketsA = 0,
  PacketsB = 1,
  BytesA = 2,
  BytesB = 3,
  FirstSec = 4,
  LastSec = 5,
  FirstNs = 6,
  LastNs = 7,
  /** framePlace of the flow's first packet in input order (0: none yet). */
  FirstFrame = 8,
  /** framePlace of its last packet. */
  LastFrame = 9,
  W = 10,
}

/**
 * Frames a file may number: a packet's place in the input is one double, `file * FRAMES_PER_FILE +
 * frame`, exact up to 2^53, so 131 072 files of up to 2^36 (68 719 476 736) frames each; places
 * compare as numbers, which orders them as the files were read and by frame within a file.
 */
export const FRAMES_PER_FILE = 2 ** 36;

/** The place of frame `frame` (1-based, as tshark numbers frames) of input file `file` (0-based). */
export function framePlace(file: number, frame: number): number {
  return file * FRAMES_PER_FILE + frame;
}

/** The input file (0-based) of a place. */
export function placeFile(place: number): number {
  return Math.floor(place / FRAMES_PER_FILE);
}

/** The frame number within its file of a place. */
export function placeFrame(place: number): number {
  return place % FRAMES_PER_FILE;
}

/** Words a flow: TCP flags seen from A and from B, state bits, tunnels, has-time, timestamp digits, client side, evidence, ICMP errors. */
export const enum Meta {
  FlagsA = 0,
  FlagsB = 1,
  /** State bits (State). */
  State = 2,
  /** Tunnel bits (record.ts TUNNEL_NAMES). */
  Tunnels = 3,
  /** 1 once a packet with a timestamp was counted. */
  HasTime = 4,
  /** Fractional digits of the timestamps (the most any packet had). */
  Digits = 5,
  /** 1: side A is the client. */
  ClientIsA = 6,
  /** Index in DIRECTION_EVIDENCE of what decided ClientIsA (Evidence). */
  Evidence = 7,
  /** ICMP errors that quoted this flow (icmpErrorWord): their count and the last one's type and code. */
  IcmpErrors = 8,
  W = 9,
}

/**
 * Words a tunnelled flow: the outer IP header of its first tunnelled packet (decode/view.ts
 * ipTunnel), by side as the key has them. Kept in `FlowWords.outer`, which a table makes only once a
 * tunnelled packet comes: captures without tunnels pay nothing for it.
 */
export const enum Outer {
  /** The outer IP version (0: the flow has no outer header), and 1 << 8 when the tunnel is over UDP (Ports is set). */
  Info = 0,
  /** The outer address of side A's packets (the source of what A sent), then of side B's: 4 words each. */
  A = 1,
  B = 5,
  /** The outer UDP port on A's side in the high half, B's in the low half. */
  Ports = 9,
  W = 10,
}

/** Outer.Info's bit: the tunnel is over UDP. */
export const OUTER_UDP = 1 << 8;

/** The IcmpErrors word after one more error of this type and code: the count (at most 0xffff) high, `type << 8 | code` low. */
export function icmpErrorWord(word: number, type: number, code: number): number {
  const n = Math.min(0xffff, (word >>> 16) + 1);
  return ((n << 16) | (type << 8) | code) >>> 0;
}

/** Bits of the Meta.State word. */
export const enum State {
  SynA = 1,
  SynB = 2,
  SynAckA = 4,
  SynAckB = 8,
  RstA = 16,
  RstB = 32,
  FinA = 64,
  FinB = 128,
  /** A SYN-ACK was seen before any SYN; its receiver becomes the client once another packet follows. */
  PendingSynAck = 256,
  /** With PendingSynAck: the SYN-ACK went to A. */
  PendingToA = 512,
  /** The flow's first packet was a pure SYN: when shards are merged, it cannot continue an earlier flow. */
  OpenedBySyn = 1024,
  /** Packets from A (B) were seen with and without a VLAN tag: for the capture-quality statement. */
  TaggedA = 2048,
  UntaggedA = 4096,
  TaggedB = 8192,
  UntaggedB = 16384,
}

/** What decided who the client is, weakest first: indices in DIRECTION_EVIDENCE. */
export const enum Evidence {
  FirstPacket = 0,
  PortRank = 1,
  EpbFlags = 2,
  IcmpType = 3,
  SynAck = 4,
  Syn = 5,
}

/** The protocol number in key word 0. */
export function protoOf(k0: number): number {
  return k0 & 0xff;
}

/** Whether key word 0 is an IPv4 flow's. */
export function isV4(k0: number): boolean {
  return ((k0 >> 8) & 0xf) === 4;
}

/** Whether key word 0 is a flow with ports (TCP, UDP, SCTP …). */
export function hasPorts(k0: number): boolean {
  return ((k0 >> 12) & 1) === 1;
}

/** Key word 0 of a flow. */
export function keyWord0(proto: number, ipVersion: number, ports: boolean): number {
  return proto | (ipVersion << 8) | ((ports ? 1 : 0) << 12);
}

/** Tagged one way and untagged the other: the mirror sees the two directions on different ports. */
export function vlanAsymmetric(st: number): boolean {
  return ((st & State.TaggedA) !== 0 && (st & State.TaggedB) === 0 && (st & State.UntaggedB) !== 0) ||
    ((st & State.TaggedB) !== 0 && (st & State.TaggedA) === 0 && (st & State.UntaggedA) !== 0);
}

/**
 * A flow table's words: `size` flows, each with Key.W key words, Hot.W counters, Meta.W meta words,
 * its first ICMP type and code (`type << 8 | code`, -1: none), its first VLAN id (-1: none) and, once
 * a flow was tunnelled, Outer.W outer-header words. The
 * table, a shard of it and the files that read them (shard.ts, retire.ts, export.ts, json.ts) share it.
 */
export interface FlowWords {
  size: number;
  keys: Uint32Array;
  hot: Float64Array;
  meta: Uint32Array;
  icmp: Int32Array;
  vlan: Int32Array;
  /** Outer.W words a flow once any flow was tunnelled, else null. */
  outer: Uint32Array | null;
  /** The VLAN id is part of the flow key (--vlan-key): a flow's filter names it. */
  readonly vlanInKey?: boolean;
}
