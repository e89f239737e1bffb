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
import { BitReader, readHuffmanTables, readJpegSegments, type HuffmanTable } from './jpegHuffman';

function fail(message: string): never {
  throw new DicomError('decode-failed', `JPEG lossless: ${message}`);
}

export function decodeJpegLossless(data: Uint8Array, info: FrameInfo): StoredFrame {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) fail('no SOI marker');
  const tables: (HuffmanTable | undefined)[] = [];
  let precision = 0;
  let width = 0;
  let height = 0;
  let restartInterval = 0;
  const u16 = (p: number): number => (data[p] << 8) | data[p + 1];
  const sos = readJpegSegments(data, fail, (marker, seg, end) => {
    if (marker === 0xc4) {
      readHuffmanTables(data, seg, end, (_tableClass, slot, table) => {
        tables[slot] = table;
      });
    } else if (marker === 0xc3) {
      precision = data[seg];
      height = u16(seg + 1);
      width = u16(seg + 3);
      if (data[seg + 5] !== 1) fail(`${data[seg + 5]} components (only 1 is supported)`);
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      fail(`SOF${marker - 0xc0} is not lossless process 14`);
    } else if (marker === 0xdd) {
      restartInterval = u16(seg);
    }
  });
  if (!precision) fail('no SOF3 frame header');
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
  const reader = new BitReader(data, sos + 2 * ns + 4, fail);
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
