/**
 * JPEG DCT, sequential, Huffman (ITU-T T.81): baseline 8-bit (process 1,
 * 1.2.840.10008.1.2.4.50) and extended 12-bit (process 2+4, .51), one
 * component (CT is greyscale). Pure TypeScript, injectable like every codec.
 *
 * The inverse DCT is the IJG "islow" integer algorithm (jidctint.c, the
 * default of libjpeg, libjpeg-turbo and DCMTK), so a frame decodes to the same
 * stored values as those libraries (test/dicomweb/codecs.test.ts compares with
 * DCMTK's dcmdjpeg value for value). Why not @cornerstonejs/codec-libjpeg-turbo-8bit:
 * it has no 12-bit path, and lossy CT is almost always 12-bit extended JPEG.
 * Progressive and hierarchical JPEG and colour frames are refused (decode-failed).
 */
import { DicomError } from '../errors';
import { TRANSFER_SYNTAX, type FrameCodec, type FrameInfo, type StoredFrame } from '../decodeFrame';
import { BitReader, readHuffmanTables, readJpegSegments, type HuffmanTable } from './jpegHuffman';

function fail(message: string): never {
  throw new DicomError('decode-failed', `JPEG baseline/extended: ${message}`);
}

/** Zig-zag position -> natural (row-major) position in the 8x8 block. */
const NATURAL_ORDER = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
]);

// jidctint.c constants: FIX(x) = round(x * 2^13)
const CONST_BITS = 13;
const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;

/** Round-half-up right shift, exact for any integer below 2^53 (IJG's DESCALE on INT32). */
const descale = (x: number, n: number): number => Math.floor((x + 2 ** (n - 1)) / 2 ** n);

/**
 * IJG islow inverse DCT of one block of dequantised coefficients (natural order), written as
 * samples (level-shifted and clamped to [0, max]) into `out` at `offset` with row `stride`,
 * clipped to `w` x `h` (blocks at the right and bottom edges).
 */
function idctIslow(
  coef: Int32Array,
  ws: Float64Array,
  pass1Bits: number,
  max: number,
  out: Uint16Array,
  offset: number,
  stride: number,
  w: number,
  h: number,
): void {
  const center = (max + 1) / 2;
  // Pass 1: columns, into the workspace scaled up by 2^pass1Bits.
  for (let c = 0; c < 8; c++) {
    if (
      coef[8 + c] === 0 &&
      coef[16 + c] === 0 &&
      coef[24 + c] === 0 &&
      coef[32 + c] === 0 &&
      coef[40 + c] === 0 &&
      coef[48 + c] === 0 &&
      coef[56 + c] === 0
    ) {
      const dc = coef[c] * 2 ** pass1Bits;
      for (let r = 0; r < 8; r++) ws[8 * r + c] = dc;
      continue;
    }
    let z2 = coef[16 + c];
    let z3 = coef[48 + c];
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 + z3 * -FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    z2 = coef[c];
    z3 = coef[32 + c];
    let tmp0 = (z2 + z3) * 2 ** CONST_BITS;
    let tmp1 = (z2 - z3) * 2 ** CONST_BITS;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = coef[56 + c];
    tmp1 = coef[40 + c];
    tmp2 = coef[24 + c];
    tmp3 = coef[8 + c];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    const n = CONST_BITS - pass1Bits;
    ws[c] = descale(tmp10 + tmp3, n);
    ws[56 + c] = descale(tmp10 - tmp3, n);
    ws[8 + c] = descale(tmp11 + tmp2, n);
    ws[48 + c] = descale(tmp11 - tmp2, n);
    ws[16 + c] = descale(tmp12 + tmp1, n);
    ws[40 + c] = descale(tmp12 - tmp1, n);
    ws[24 + c] = descale(tmp13 + tmp0, n);
    ws[32 + c] = descale(tmp13 - tmp0, n);
  }
  // Pass 2: rows, descaled by 2^(CONST_BITS + pass1Bits + 3) into samples.
  const n = CONST_BITS + pass1Bits + 3;
  const row = new Float64Array(8);
  for (let r = 0; r < h; r++) {
    const p = 8 * r;
    let z2 = ws[p + 2];
    let z3 = ws[p + 6];
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 + z3 * -FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    let tmp0 = (ws[p] + ws[p + 4]) * 2 ** CONST_BITS;
    let tmp1 = (ws[p] - ws[p + 4]) * 2 ** CONST_BITS;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = ws[p + 7];
    tmp1 = ws[p + 5];
    tmp2 = ws[p + 3];
    tmp3 = ws[p + 1];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    row[0] = tmp10 + tmp3;
    row[7] = tmp10 - tmp3;
    row[1] = tmp11 + tmp2;
    row[6] = tmp11 - tmp2;
    row[2] = tmp12 + tmp1;
    row[5] = tmp12 - tmp1;
    row[3] = tmp13 + tmp0;
    row[4] = tmp13 - tmp0;
    const o = offset + r * stride;
    for (let c = 0; c < w; c++) {
      const v = descale(row[c], n) + center;
      out[o + c] = v < 0 ? 0 : v > max ? max : v;
    }
  }
}

interface Frame {
  precision: number;
  width: number;
  height: number;
  quantTable: number;
}

export function decodeJpegBaseline(data: Uint8Array, info: FrameInfo): StoredFrame {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) fail('no SOI marker');
  const huffman: { dc: (HuffmanTable | undefined)[]; ac: (HuffmanTable | undefined)[] } = { dc: [], ac: [] };
  const quant: (Int32Array | undefined)[] = [];
  // Assigned in the segment callback, which control-flow narrowing does not follow.
  let frame = null as Frame | null;
  let restartInterval = 0;
  const u16 = (p: number): number => (data[p] << 8) | data[p + 1];
  const sos = readJpegSegments(data, fail, (marker, seg, end) => {
    if (marker === 0xc4) {
      readHuffmanTables(data, seg, end, (tableClass, slot, table) => {
        (tableClass ? huffman.ac : huffman.dc)[slot] = table;
      });
    } else if (marker === 0xdb) {
      let p = seg;
      while (p < end) {
        const wide = data[p] >> 4;
        const table = new Int32Array(64);
        for (let k = 0; k < 64; k++) table[NATURAL_ORDER[k]] = wide ? u16(p + 1 + 2 * k) : data[p + 1 + k];
        quant[data[p] & 0x0f] = table;
        p += 1 + (wide ? 128 : 64);
      }
    } else if (marker === 0xc0 || marker === 0xc1) {
      const nf = data[seg + 5];
      if (nf !== 1) fail(`${nf} components (only greyscale, 1, is supported)`);
      frame = { precision: data[seg], width: u16(seg + 3), height: u16(seg + 1), quantTable: data[seg + 8] };
    } else if (marker >= 0xc2 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      fail(`SOF${marker - 0xc0} is not sequential DCT with Huffman coding (baseline or extended)`);
    } else if (marker === 0xdd) {
      restartInterval = u16(seg);
    }
  });
  if (!frame) fail('no SOF0/SOF1 frame header');
  const { precision, width, height } = frame;
  if (precision !== 8 && precision !== 12) fail(`${precision}-bit samples (8 or 12 expected)`);
  if (width !== info.columns || height !== info.rows)
    fail(`image is ${width}x${height}, header says ${info.columns}x${info.rows}`);
  const q = quant[frame.quantTable];
  if (!q) fail('the frame uses an undefined quantisation table');
  if (data[sos] !== 1) fail(`scan with ${data[sos]} components`);
  const dcTable = huffman.dc[data[sos + 2] >> 4];
  const acTable = huffman.ac[data[sos + 2] & 0x0f];
  if (!dcTable || !acTable) fail('the scan uses an undefined Huffman table');
  const reader = new BitReader(data, sos + 2 + 4, fail);
  const max = (1 << precision) - 1;
  const pass1Bits = precision === 8 ? 2 : 1; // jidctint.c: keeps 12-bit products within 32 bits
  const out = new Uint16Array(width * height);
  const coef = new Int32Array(64);
  const ws = new Float64Array(64);
  const blocksX = Math.ceil(width / 8);
  const blocksY = Math.ceil(height / 8);
  let pred = 0;
  let untilRestart = restartInterval;
  const extend = (v: number, s: number): number => (v < 1 << (s - 1) ? v - (1 << s) + 1 : v);
  for (let by = 0; by < blocksY; by++) {
    for (let bx = 0; bx < blocksX; bx++) {
      if (restartInterval > 0) {
        if (untilRestart === 0) {
          reader.restart();
          untilRestart = restartInterval;
          pred = 0;
        }
        untilRestart--;
      }
      coef.fill(0);
      const t = reader.decodeHuffman(dcTable);
      if (t > 16) fail(`DC difference category ${t}`);
      pred += t === 0 ? 0 : extend(reader.read(t), t);
      coef[0] = pred * q[0];
      for (let k = 1; k < 64;) {
        const rs = reader.decodeHuffman(acTable);
        const r = rs >> 4;
        const s = rs & 15;
        if (s === 0) {
          if (r !== 15) break; // end of block
          k += 16;
          continue;
        }
        k += r;
        if (k > 63) fail('AC coefficient beyond the block');
        const z = NATURAL_ORDER[k];
        coef[z] = extend(reader.read(s), s) * q[z];
        k++;
      }
      idctIslow(
        coef,
        ws,
        pass1Bits,
        max,
        out,
        by * 8 * width + bx * 8,
        width,
        Math.min(8, width - bx * 8),
        Math.min(8, height - by * 8),
      );
    }
  }
  if (reader.ranPastEnd()) fail('the entropy-coded data ends early (truncated frame)');
  if (info.bitsAllocated === 8) return Uint8Array.from(out);
  return out;
}

export const jpegBaselineCodec: FrameCodec = {
  name: 'JPEG baseline/extended (DCT, Huffman)',
  decode: (encoded, info) => decodeJpegBaseline(encoded, info),
};

export function jpegBaselineCodecs(codec: FrameCodec = jpegBaselineCodec): Record<string, FrameCodec> {
  return { [TRANSFER_SYNTAX.jpegBaseline8]: codec, [TRANSFER_SYNTAX.jpegExtended12]: codec };
}
