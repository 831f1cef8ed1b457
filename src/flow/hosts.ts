/**
 * Host ids by address words, for the flow columns: open addressing over (IP version, 4 address words)
 * → id + 1, grown at half full, so each address's text is made once however many flows it has.
 */
import { formatIPv4, formatIPv6 } from '../core/addr.js';

function hashOf(v: number, w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ v, 0xcc9e2d51) ^ Math.imul(w1, 0x1b873593) ^ Math.imul(w2, 0xe6546b64) ^ Math.imul(w3, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

export class HostIds {
  /** Address text by host id. */
  readonly hosts: string[] = [];
  private slots = new Int32Array(1 << 12);
  private mask = this.slots.length - 1;
  /** Per id: version and the 4 address words. */
  private keys = new Uint32Array(5 << 12);

  /** The id of the address at `o` in `words` (one word for IPv4, four for IPv6). */
  idOf(words: Uint32Array, o: number, v4: boolean): number {
    const v = v4 ? 4 : 6;
    const w0 = words[o]!;
    const w1 = v4 ? 0 : words[o + 1]!;
    const w2 = v4 ? 0 : words[o + 2]!;
    const w3 = v4 ? 0 : words[o + 3]!;
    const hk = this.keys;
    for (let s = hashOf(v, w0, w1, w2, w3) & this.mask; ; s = (s + 1) & this.mask) {
      const id = this.slots[s]! - 1;
      if (id < 0) {
        const nid = this.hosts.length;
        const k = nid * 5;
        hk[k] = v;
        hk[k + 1] = w0;
        hk[k + 2] = w1;
        hk[k + 3] = w2;
        hk[k + 4] = w3;
        this.slots[s] = nid + 1;
        this.hosts.push(v4 ? formatIPv4(w0) : formatIPv6(w0, w1, w2, w3));
        if (this.hosts.length * 2 > this.slots.length) this.grow();
        return nid;
      }
      const k = id * 5;
      if (hk[k + 1] === w0 && hk[k] === v && hk[k + 2] === w1 && hk[k + 3] === w2 && hk[k + 4] === w3) return id;
    }
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    const keys = new Uint32Array(this.keys.length * 2);
    keys.set(this.keys);
    this.keys = keys;
    for (let id = 0; id < this.hosts.length; id++) {
      const k = id * 5;
      let s = hashOf(keys[k]!, keys[k + 1]!, keys[k + 2]!, keys[k + 3]!, keys[k + 4]!) & this.mask;
      while (this.slots[s] !== 0) s = (s + 1) & this.mask;
      this.slots[s] = id + 1;
    }
  }
}
