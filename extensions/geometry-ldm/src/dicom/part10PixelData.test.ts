/**
 * The pixel-data walker against dcmjs's full parse (an independent reader) on every real file of
 * the shared data (explicit and implicit VR, JPEG 2000, sequences), plus the files it must leave
 * to the caller.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChunkedBytes } from './chunkedBytes';
import { readPart10Raw, writePart10Raw } from './part10';
import { part10Frame, part10PixelData } from './part10PixelData';
import { REAL_SERIES_DIRS, seriesFiles, type RealSeries } from '../../../../test/support/seed';

const SERIES = Object.keys(REAL_SERIES_DIRS) as RealSeries[];

const flat = (b: Uint8Array | ChunkedBytes): Uint8Array => (b instanceof ChunkedBytes ? b.contiguous() : b);

/** `bytes` as received in chunks of `size` bytes (the last one shorter). */
function chunked(bytes: Uint8Array, size: number): ChunkedBytes {
  const chunks: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += size) chunks.push(bytes.slice(o, o + size));
  return ChunkedBytes.of(chunks);
}

test.each(SERIES)('%s: transfer syntax, SOP Instance UID and frame bytes equal dcmjs', (name) => {
  const files = seriesFiles(name);
  expect(files.length).toBeGreaterThan(0);
  const syntaxes = new Set<string>();
  for (const f of files) {
    const bytes = new Uint8Array(fs.readFileSync(f));
    const ref = readPart10Raw(bytes);
    const got = part10PixelData(bytes);
    expect(got).not.toBeNull();
    expect(got!.transferSyntaxUid).toBe(ref.transferSyntaxUid);
    expect(got!.sopInstanceUid).toBe(
      ((ref.dict['00080018']?.Value ?? [''])[0] as string) || got!.sopInstanceUid,
    );
    syntaxes.add(got!.transferSyntaxUid);
    const refFrame = new Uint8Array((ref.dict['7FE00010'].Value as ArrayBuffer[])[0]);
    const frameBytes =
      (ref.dict['00280010'].Value![0] as number) * (ref.dict['00280011'].Value![0] as number) * 2;
    // dcmjs pads an odd native value; the frame is what the header describes
    const want = Buffer.from(got!.native ? refFrame.subarray(0, frameBytes) : refFrame);
    expect(Buffer.from(flat(part10Frame(got!, 0, 1, frameBytes)!)).equals(want)).toBe(true);
    // the same instance as a socket delivers it: 64 KiB chunks, and an odd size that splits
    // element headers and the pixel data at odd offsets
    for (const size of [65536, 4093]) {
      const spread = part10PixelData(chunked(bytes, size))!;
      expect(spread.transferSyntaxUid).toBe(got!.transferSyntaxUid);
      expect(spread.sopInstanceUid).toBe(got!.sopInstanceUid);
      expect(Buffer.from(flat(part10Frame(spread, 0, 1, frameBytes)!)).equals(want)).toBe(true);
    }
  }
  expect(syntaxes.size).toBe(1);
});

test('a sequence of undefined length before the pixel data is skipped by its delimiters', () => {
  // dcmjs writes sequences with undefined length: a file with a nested one proves the walk
  const file = seriesFiles('lung-pet-ct-dx-a0002')[0];
  const { dict, transferSyntaxUid } = readPart10Raw(new Uint8Array(fs.readFileSync(file)));
  dict['00081140'] = {
    vr: 'SQ',
    Value: [
      {
        '00081150': { vr: 'UI', Value: ['1.2.3'] },
        '00081155': { vr: 'UI', Value: ['1.2.3.4'] },
        '00082112': { vr: 'SQ', Value: [{ '00081150': { vr: 'UI', Value: ['5.6'] } }] },
      },
    ],
  } as never;
  const bytes = writePart10Raw(dict, transferSyntaxUid);
  const got = part10PixelData(bytes)!;
  expect(got.sopInstanceUid).toBe(dict['00080018'].Value![0]);
  const ref = new Uint8Array((readPart10Raw(bytes).dict['7FE00010'].Value as ArrayBuffer[])[0]);
  expect(Buffer.from(flat(got.native!)).equals(Buffer.from(ref))).toBe(true);
});

test('spread over chunks: elements past the copied header prefix are read from the whole instance', () => {
  // a 100 KiB private element before the pixel data: longer than the prefix the walker copies
  const file = seriesFiles('lung-pet-ct-dx-a0002')[0];
  const { dict, transferSyntaxUid } = readPart10Raw(new Uint8Array(fs.readFileSync(file)));
  dict['00291010'] = { vr: 'OB', Value: [new Uint8Array(100 * 1024).fill(7).buffer] } as never;
  const bytes = writePart10Raw(dict, transferSyntaxUid);
  const whole = part10PixelData(bytes)!;
  const spread = part10PixelData(chunked(bytes, 65536))!;
  expect(spread.sopInstanceUid).toBe(dict['00080018'].Value![0]);
  expect(Buffer.from(flat(spread.native!)).equals(Buffer.from(flat(whole.native!)))).toBe(true);
  // a truncated instance spread over chunks is refused as a whole one is
  expect(part10PixelData(chunked(bytes.subarray(0, bytes.length - 10), 4096))).toBeNull();
});

test('big endian, a truncated file or no DICM prefix: null (the caller fetches frames instead)', () => {
  const file = seriesFiles('lung-pet-ct-dx-a0002')[0];
  const bytes = new Uint8Array(fs.readFileSync(file));
  const { dict } = readPart10Raw(bytes);
  expect(part10PixelData(writePart10Raw(dict, '1.2.840.10008.1.2.2'))).toBeNull();
  expect(part10PixelData(bytes.subarray(0, 400))).toBeNull();
  expect(part10PixelData(bytes.subarray(128))).toBeNull();
  expect(path.basename(file)).toBeTruthy();
});

test('encapsulated frames: by the offset table, all fragments for one frame, one fragment each', () => {
  const frag = (n: number, v: number) => new Uint8Array(n).fill(v);
  const p = (offsets: number[], fragments: Uint8Array[]) => ({
    transferSyntaxUid: '1.2.840.10008.1.2.5',
    sopInstanceUid: '1',
    native: null,
    encapsulated: { offsets, fragments },
  });
  const f = [frag(4, 1), frag(6, 2), frag(2, 3)];
  // frames: [f0, f1] and [f2]; offsets from the first fragment's item tag (8-byte headers)
  expect(Array.from(flat(part10Frame(p([0, 8 + 4 + 8 + 6], f), 0, 2, 0)!))).toEqual([
    1, 1, 1, 1, 2, 2, 2, 2, 2, 2,
  ]);
  expect(Array.from(flat(part10Frame(p([0, 26], f), 1, 2, 0)!))).toEqual([3, 3]);
  expect(part10Frame(p([0, 5], f), 1, 2, 0)).toBeNull(); // an offset that starts no fragment
  expect(part10Frame(p([], f), 0, 1, 0)!.length).toBe(12);
  expect(Array.from(flat(part10Frame(p([], f), 2, 3, 0)!))).toEqual([3, 3]);
  expect(part10Frame(p([], f), 0, 2, 0)).toBeNull(); // 3 fragments, 2 frames, no table
});
