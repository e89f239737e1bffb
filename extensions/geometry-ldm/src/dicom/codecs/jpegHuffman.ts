/**
 * The marker-segment walk, Huffman tables and the entropy-coded bit reader of ITU-T T.81
 * (JPEG), shared by the lossless (process 14) and the DCT (baseline / extended sequential)
 * decoders.
 */
export interface HuffmanTable {
  maxCode: Int32Array; // by code length 1..16, -1 when no code of that length
  valPtr: Int32Array;
  minCode: Int32Array;
  values: Uint8Array;
  /** 8-bit lookahead: (length << 8) | value, or 0 when the code is longer. */
  fast: Uint16Array;
}

export function buildTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  const maxCode = new Int32Array(18).fill(-1);
  const valPtr = new Int32Array(17);
  const minCode = new Int32Array(17);
  const fast = new Uint16Array(256);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1];
    if (n > 0) {
      valPtr[len] = k;
      minCode[len] = code;
      for (let m = 0; m < n; m++, k++, code++) {
        if (len <= 8) {
          const shift = 8 - len;
          for (let f = code << shift; f < (code + 1) << shift; f++) fast[f] = (len << 8) | values[k];
        }
      }
      maxCode[len] = code - 1;
    }
    code <<= 1;
  }
  maxCode[17] = 0x7fffffff;
  return { maxCode, valPtr, minCode, values, fast };
}

/**
 * Walks the marker segments that follow SOI (fill bytes FF skipped) up to the first SOS,
 * handing each one but the SOS to `onSegment` with its marker and its payload, the bytes
 * `start` to `end` after the length field. Returns where the SOS payload (the scan header)
 * starts. A stream that ends before the scan, a segment longer than the data or a byte that
 * is no marker where one is due is refused with the codec's `fail`.
 */
export function readJpegSegments(
  data: Uint8Array,
  fail: (message: string) => never,
  onSegment: (marker: number, start: number, end: number) => void,
): number {
  let pos = 2;
  for (;;) {
    if (pos + 4 > data.length) fail('truncated before the scan');
    if (data[pos] !== 0xff) fail(`marker expected at byte ${pos}`);
    const marker = data[pos + 1];
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const start = pos + 4;
    const end = start + ((data[pos + 2] << 8) | data[pos + 3]) - 2;
    if (end > data.length) fail('truncated segment');
    if (marker === 0xda) return start;
    onSegment(marker, start, end);
    pos = end;
  }
}

/** The Huffman tables of one DHT segment payload, each with its class (0 DC or lossless, 1 AC) and slot. */
export function readHuffmanTables(
  data: Uint8Array,
  start: number,
  end: number,
  onTable: (tableClass: number, slot: number, table: HuffmanTable) => void,
): void {
  let p = start;
  while (p < end) {
    const tcth = data[p];
    const counts = data.subarray(p + 1, p + 17);
    const total = counts.reduce((s, c) => s + c, 0);
    onTable(tcth >> 4, tcth & 0x0f, buildTable(counts, data.slice(p + 17, p + 17 + total)));
    p += 17 + total;
  }
}

export class BitReader {
  private acc = 0;
  private bits = 0;
  /** Set when a marker (other than a stuffed FF00) was reached. */
  marker = -1;
  /** Zero bits fed because the data ended with no marker (a truncated stream). */
  private fakeBits = 0;
  constructor(
    private readonly data: Uint8Array,
    public pos: number,
    /** Throws the codec's own decode-failed error. */
    private readonly fail: (message: string) => never,
  ) {}

  private fill(): void {
    while (this.bits <= 24) {
      let byte = 0;
      if (this.marker < 0 && this.pos >= this.data.length) this.fakeBits += 8;
      if (this.marker < 0 && this.pos < this.data.length) {
        byte = this.data[this.pos];
        if (byte === 0xff) {
          const next = this.data[this.pos + 1];
          if (next === 0x00) {
            this.pos += 2;
          } else {
            this.marker = next;
            byte = 0;
          }
        } else {
          this.pos++;
        }
      }
      this.acc = ((this.acc << 8) | byte) >>> 0;
      this.bits += 8;
    }
  }

  /** True when decoding used bits that lie past the end of the data (the stream was cut off). */
  ranPastEnd(): boolean {
    return this.fakeBits > this.bits;
  }

  peek(n: number): number {
    if (this.bits < n) this.fill();
    return (this.acc >>> (this.bits - n)) & ((1 << n) - 1);
  }

  skip(n: number): void {
    this.bits -= n;
    this.acc &= this.bits === 32 ? 0xffffffff : (1 << this.bits) - 1 || 0;
  }

  read(n: number): number {
    if (n === 0) return 0;
    const v = this.peek(n);
    this.skip(n);
    return v;
  }

  /** Consumes an expected RSTn marker and resets the bit buffer. */
  restart(): void {
    this.acc = 0;
    this.bits = 0;
    if (this.marker < 0) {
      // The marker follows directly: find it.
      while (
        this.pos + 1 < this.data.length &&
        !(this.data[this.pos] === 0xff && this.data[this.pos + 1] >= 0xd0 && this.data[this.pos + 1] <= 0xd7)
      ) {
        this.pos++;
      }
      if (this.pos + 1 >= this.data.length) this.fail('restart marker missing');
      this.pos += 2;
    } else {
      if (this.marker < 0xd0 || this.marker > 0xd7)
        this.fail(`expected a restart marker, found FF${this.marker.toString(16)}`);
      this.pos += 2;
      this.marker = -1;
    }
  }

  decodeHuffman(t: HuffmanTable): number {
    const look = this.peek(8);
    const f = t.fast[look];
    if (f !== 0) {
      this.skip(f >> 8);
      return f & 0xff;
    }
    let code = this.read(8);
    for (let len = 9; len <= 16; len++) {
      code = (code << 1) | this.read(1);
      if (t.maxCode[len] >= 0 && code <= t.maxCode[len])
        return t.values[t.valPtr[len] + code - t.minCode[len]];
    }
    return this.fail('invalid Huffman code');
  }
}
