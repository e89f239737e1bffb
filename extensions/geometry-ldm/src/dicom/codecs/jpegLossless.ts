/**
 * JPEG Lossless, non-hierarchical, first-order prediction (process 14:
 * 1.2.840.10008.1.2.4.57 and .70 "SV1"), ITU-T T.81 Annex H, single component.
 * Pure TypeScript; the codec is injectable like every other one.
 *
 * Why not jpeg-lossless-decoder-js (the package Cornerstone's image loader
 * uses for these syntaxes)? Version 2.1.2 was tried on the test data (real
 * slices transcoded with DCMTK, compared with the original uncompressed
 * files, test/dicomweb/codecs.test.ts) and:
 * - dropped the last pixel of a frame (0 instead of -1024) on one of the ten
 *   SV1 test slices (lidc-idri-0001 000070.dcm): its decode loop stops
 *   without writing the final sample when the last code runs into the EOI
 *   marker;
 * - ignores the point transform (Pt > 0): every pixel wrong on DCMTK `+pt 2`
 *   output (no left shift, wrong initial predictor);
 * - returns made-up pixels for a truncated frame instead of failing.
 * This decoder is bit-exact on all of those, handles Pt, and refuses a frame
 * whose entropy-coded data ends early (decode-failed).
 */
import { DicomError } from '../errors';
import { TRANSFER_SYNTAX, type FrameCodec, type FrameInfo, type StoredFrame } from '../decodeFrame';

interface HuffmanTable {
  maxCode: Int32Array; // by code length 1..16, -1 when no code of that length
  valPtr: Int32Array;
  minCode: Int32Array;
  values: Uint8Array;
  /** 8-bit lookahead: (length << 8) | value, or 0 when the code is longer. */
  fast: Uint16Array;
}

function fail(message: string): never {
  throw new DicomError('decode-failed', `JPEG lossless: ${message}`);
}

function buildTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
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

class BitReader {
  private acc = 0;
  private bits = 0;
  /** Set when a marker (other than a stuffed FF00) was reached. */
  marker = -1;
  /** Zero bits fed because the data ended with no marker (a truncated stream). */
  private fakeBits = 0;
  constructor(
    private readonly data: Uint8Array,
    public pos: number,
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
      if (this.pos + 1 >= this.data.length) fail('restart marker missing');
      this.pos += 2;
    } else {
      if (this.marker < 0xd0 || this.marker > 0xd7)
        fail(`expected a restart marker, found FF${this.marker.toString(16)}`);
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
    return fail('invalid Huffman code');
  }
}

export function decodeJpegLossless(data: Uint8Array, info: FrameInfo): StoredFrame {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) fail('no SOI marker');
  const tables: (HuffmanTable | undefined)[] = [];
  let precision = 0;
  let width = 0;
  let height = 0;
  let restartInterval = 0;
  let pos = 2;
  const u16 = (p: number): number => (data[p] << 8) | data[p + 1];
  for (;;) {
    if (pos + 4 > data.length) fail('truncated before the scan');
    if (data[pos] !== 0xff) fail(`marker expected at byte ${pos}`);
    const marker = data[pos + 1];
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const len = u16(pos + 2);
    const seg = pos + 4;
    if (seg + len - 2 > data.length) fail('truncated segment');
    if (marker === 0xc4) {
      let p = seg;
      while (p < seg + len - 2) {
        const tcth = data[p];
        const counts = data.subarray(p + 1, p + 17);
        const total = counts.reduce((s, c) => s + c, 0);
        tables[tcth & 0x0f] = buildTable(counts, data.slice(p + 17, p + 17 + total));
        p += 17 + total;
      }
    } else if (marker === 0xc3) {
      precision = data[seg];
      height = u16(seg + 1);
      width = u16(seg + 3);
      if (data[seg + 5] !== 1) fail(`${data[seg + 5]} components (only 1 is supported)`);
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      fail(`SOF${marker - 0xc0} is not lossless process 14`);
    } else if (marker === 0xdd) {
      restartInterval = u16(seg);
    } else if (marker === 0xda) {
      break;
    }
    pos = seg + len - 2;
  }
  if (!precision) fail('no SOF3 frame header');
  const sos = pos + 4;
  const ns = data[sos];
  if (ns !== 1) fail(`scan with ${ns} components`);
  const table = tables[data[sos + 2] >> 4];
  if (!table) fail('scan uses an undefined Huffman table');
  const predictor = data[sos + 2 + 1];
  const pt = data[sos + 2 + 3] & 0x0f;
  if (predictor < 1 || predictor > 7) fail(`predictor ${predictor}`);
  if (width !== info.columns || height !== info.rows) {
    fail(`image is ${width}x${height}, header says ${info.columns}x${info.rows}`);
  }
  const reader = new BitReader(data, sos + 2 * ns + 4);
  const out = new Uint16Array(width * height);
  const mask = precision >= 16 ? 0xffff : (1 << precision) - 1;
  const initial = 1 << (precision - pt - 1);
  let untilRestart = restartInterval;
  let resetLine = true; // the current row is the first row after a (re)start
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (restartInterval > 0 && untilRestart === 0) {
        reader.restart();
        untilRestart = restartInterval;
        resetLine = true;
        if (x !== 0) fail('restart interval not aligned to rows');
      }
      const s = reader.decodeHuffman(table);
      let diff: number;
      if (s === 0) diff = 0;
      else if (s === 16) diff = 32768;
      else if (s > 16) fail(`difference category ${s}`);
      else {
        const v = reader.read(s);
        diff = v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
      }
      let px: number;
      if (x === 0 && (y === 0 || resetLine)) px = initial;
      else if (resetLine || y === 0) px = out[row + x - 1];
      else if (x === 0) px = out[row - width];
      else {
        const ra = out[row + x - 1];
        const rb = out[row - width + x];
        const rc = out[row - width + x - 1];
        switch (predictor) {
          case 1:
            px = ra;
            break;
          case 2:
            px = rb;
            break;
          case 3:
            px = rc;
            break;
          case 4:
            px = ra + rb - rc;
            break;
          case 5:
            px = ra + ((rb - rc) >> 1);
            break;
          case 6:
            px = rb + ((ra - rc) >> 1);
            break;
          default:
            px = (ra + rb) >> 1;
        }
      }
      out[row + x] = (px + diff) & mask;
      if (restartInterval > 0) untilRestart--;
    }
    resetLine = false;
  }
  if (reader.ranPastEnd()) fail('the entropy-coded data ends early (truncated frame)');
  if (pt > 0) for (let n = 0; n < out.length; n++) out[n] = (out[n] << pt) & 0xffff;
  if (info.bitsAllocated === 8) return Uint8Array.from(out);
  return out;
}

export const jpegLosslessCodec: FrameCodec = {
  name: 'JPEG lossless (process 14)',
  decode: (encoded, info) => decodeJpegLossless(encoded, info),
};

export function jpegLosslessCodecs(codec: FrameCodec = jpegLosslessCodec): Record<string, FrameCodec> {
  return { [TRANSFER_SYNTAX.jpegLossless14]: codec, [TRANSFER_SYNTAX.jpegLosslessSV1]: codec };
}
