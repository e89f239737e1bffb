/**
 * Bytes held as the chunks they arrived in (an HTTP answer read from a socket or a stream),
 * cut and searched without joining them. Joining a series-level answer copies it into fresh
 * memory: on hosts whose first touch of new pages is slow (0.25-0.4 GB/s measured on this
 * project's virtual machines) that copy alone cost 200-330 ms for 70 MB. A frame is gathered
 * when it is decoded, into a buffer the reader reuses (`contiguous(into)`).
 *
 * Pure byte handling, no dependencies; positions are byte offsets from the start of this view.
 */
const oneByte = new Uint8Array(1);

export class ChunkedBytes {
  private constructor(
    private readonly chunks: readonly Uint8Array[],
    /** ends[i]: stream offset just past chunk i (ascending). */
    private readonly ends: readonly number[],
    /** Stream offset of this view's first byte. */
    private readonly start: number,
    readonly length: number,
  ) {}

  /** The concatenation of `chunks` (not copied: the caller must not change them afterwards). */
  static of(chunks: readonly Uint8Array[]): ChunkedBytes {
    const kept = chunks.filter((c) => c.length > 0);
    const ends: number[] = [];
    let n = 0;
    for (const c of kept) ends.push((n += c.length));
    return new ChunkedBytes(kept, ends, 0, n);
  }

  /** Index of the chunk holding stream offset `pos` (pos < total length). */
  private chunkAt(pos: number): number {
    let lo = 0;
    let hi = this.ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid] > pos) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private chunkStart(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1];
  }

  /** Byte `i`, or undefined outside 0..length-1 (as a Uint8Array index would be). */
  at(i: number): number | undefined {
    if (!(i >= 0 && i < this.length)) return undefined;
    const pos = this.start + i;
    const c = this.chunkAt(pos);
    return this.chunks[c][pos - this.chunkStart(c)];
  }

  /** The bytes [begin, end) of this view (clamped like Uint8Array.subarray; not copied). */
  subarray(begin = 0, end = this.length): ChunkedBytes {
    const clamp = (x: number) => Math.min(this.length, Math.max(0, x < 0 ? this.length + x : x));
    const b = clamp(begin);
    const e = Math.max(b, clamp(end));
    return new ChunkedBytes(this.chunks, this.ends, this.start + b, e - b);
  }

  /** A view of the bytes when they lie in one chunk (or are empty), else null. */
  view(): Uint8Array | null {
    if (this.length === 0) return new Uint8Array(0);
    const c = this.chunkAt(this.start);
    const off = this.start - this.chunkStart(c);
    const chunk = this.chunks[c];
    return off + this.length <= chunk.length ? chunk.subarray(off, off + this.length) : null;
  }

  /**
   * The bytes as one Uint8Array: a view when they lie in one chunk; otherwise copied into the
   * start of `into` when it is long enough (a buffer the caller reuses), else into a new array.
   */
  contiguous(into?: Uint8Array): Uint8Array {
    const v = this.view();
    if (v) return v;
    const out =
      into && into.length >= this.length ? into.subarray(0, this.length) : new Uint8Array(this.length);
    let c = this.chunkAt(this.start);
    let off = this.start - this.chunkStart(c);
    let o = 0;
    while (o < this.length) {
      const chunk = this.chunks[c++];
      const n = Math.min(chunk.length - off, this.length - o);
      out.set(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n), o);
      o += n;
      off = 0;
    }
    return out;
  }

  /** First index >= from of byte `value`, or -1. */
  indexOfByte(value: number, from = 0): number {
    oneByte[0] = value; // one shared needle: the search is synchronous
    return this.indexOf(oneByte, from);
  }

  /** First index >= from where `needle` starts (it may span chunks), or -1. */
  indexOf(needle: Uint8Array, from = 0): number {
    if (needle.length === 0) return Math.min(Math.max(0, from), this.length);
    const last = this.length - needle.length; // last possible start, view-relative
    let i = Math.max(0, from);
    if (i > last) return -1;
    const first = needle[0];
    let c = this.chunkAt(this.start + i);
    while (i <= last) {
      const chunk = this.chunks[c];
      const base = this.chunkStart(c) - this.start; // view index of chunk[0]
      const hit = chunk.indexOf(first, i - base);
      if (hit < 0) {
        i = base + chunk.length;
        c++;
        continue;
      }
      const at = base + hit;
      if (at > last) return -1;
      if (this.matches(needle, at, c, hit)) return at;
      i = at + 1;
      if (i - base >= chunk.length) c++;
    }
    return -1;
  }

  /** Does `needle` start at view index `at` (byte `hit` of chunk `c`)? */
  private matches(needle: Uint8Array, at: number, c: number, hit: number): boolean {
    let chunk = this.chunks[c];
    let k = hit;
    for (let m = 0; m < needle.length; m++, k++) {
      if (k === chunk.length) {
        chunk = this.chunks[++c];
        k = 0;
      }
      if (chunk[k] !== needle[m]) return false;
    }
    return at + needle.length <= this.length;
  }
}
