/**
 * Transfer syntaxes a PACS really returns: real slices transcoded with DCMTK
 * (dcmcrle, dcmcjpls, dcmcjpeg: RLE, JPEG-LS lossless, JPEG lossless SV1 and
 * process 14 with predictor 6, and process 14 with a point transform), stored
 * in Orthanc, fetched with transfer-syntax=* and decoded on the client;
 * compared voxel for voxel with the independent reference read of the ORIGINAL
 * uncompressed files. JPEG lossless uses the built-in decoder (why not
 * jpeg-lossless-decoder-js: see codecs/jpegLossless.ts).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DicomError } from '../../extensions/geometry-ldm/src/dicom/errors';
import { defaultCodecs } from '../../extensions/geometry-ldm/src/dicom/codecs';
import { pooledCodecs, type DecodePool } from '../../extensions/geometry-ldm/src/dicom/decodePool';
import { nodeDecodePool } from '../support/decodePool';
import { readPart10Raw, writePart10Raw } from '../../extensions/geometry-ldm/src/dicom/part10';
import { readSeries } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import { newUid } from '../../extensions/geometry-ldm/src/dicom/uids';
import type { DicomwebTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { readReference, sha256 } from '../support/reference';
import { seriesFiles, type RealSeries } from '../support/seed';

interface Variant {
  name: string;
  tool: string;
  args: string[];
  ts: string;
  /** JPEG point transform: the stored values lose this many low bits (lossy). */
  pointTransform?: number;
}
/** Syntaxes Orthanc cannot send as stored (it answers 500 to transfer-syntax=*): the reader asks for explicit VR LE. */
const TRANSCODED: Variant[] = [
  {
    name: 'deflated explicit VR little endian',
    tool: 'dcmconv',
    args: ['+td'],
    ts: '1.2.840.10008.1.2.1.99',
  },
  { name: 'explicit VR big endian', tool: 'dcmconv', args: ['+tb'], ts: '1.2.840.10008.1.2.2' },
];
/** Lossy JPEG (DCT): the truth is DCMTK's own decode (dcmdjpeg, IJG islow IDCT), value for value. */
const JPEG_LOSSY: Variant[] = [
  {
    name: 'JPEG baseline 8-bit (DCMTK rescales to 8 bits)',
    tool: 'dcmcjpeg',
    args: ['+eb'],
    ts: '1.2.840.10008.1.2.4.50',
  },
  { name: 'JPEG extended 12-bit', tool: 'dcmcjpeg', args: ['+ee'], ts: '1.2.840.10008.1.2.4.51' },
];
const JPEG_LOSSLESS: Variant[] = [
  { name: 'JPEG lossless SV1', tool: 'dcmcjpeg', args: ['+e1'], ts: '1.2.840.10008.1.2.4.70' },
  {
    name: 'JPEG lossless, predictor 6',
    tool: 'dcmcjpeg',
    args: ['+el', '+sv', '6'],
    ts: '1.2.840.10008.1.2.4.57',
  },
  {
    name: 'JPEG process 14, point transform 2',
    tool: 'dcmcjpeg',
    args: ['+el', '+sv', '1', '+pt', '2'],
    ts: '1.2.840.10008.1.2.4.57',
    pointTransform: 2,
  },
];
const VARIANTS: Variant[] = [
  { name: 'RLE', tool: 'dcmcrle', args: [], ts: '1.2.840.10008.1.2.5' },
  { name: 'JPEG-LS lossless', tool: 'dcmcjpls', args: [], ts: '1.2.840.10008.1.2.4.80' },
  ...JPEG_LOSSLESS,
];
const SOURCES: RealSeries[] = ['lidc-idri-0001', 'lung-pet-ct-dx-a0002'];
const SLICES = 5;

let orthanc: OrthancInstance;
let transport: DicomwebTransport;
let work: string;
let pool: DecodePool;

beforeAll(async () => {
  orthanc = await startOrthanc();
  transport = orthancTransport(orthanc);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'codecs-'));
  pool = nodeDecodePool(2);
}, 60000);

afterAll(async () => {
  pool?.close();
  await orthanc?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.each(SOURCES)('%s', (source) => {
  /** SLICES consecutive slices along the normal (file names do not follow the position in every series). */
  let sorted: string[] | null = null;
  const originals = (): string[] => {
    if (!sorted) {
      const dir = path.dirname(seriesFiles(source)[0]);
      sorted = readReference(dir).slices.map((s) => path.join(dir, s.file));
    }
    return sorted.slice(10, 10 + SLICES);
  };

  /** The originals transcoded with DCMTK into a new series in Orthanc (new UIDs; `edit` may alter the result). */
  async function upload(
    v: Variant,
    edit?: (bytes: Uint8Array) => Uint8Array,
    reference: 'original' | 'dcmdjpeg' = 'original',
  ): Promise<{ study: string; series: string; refDir: string; sops: string[] }> {
    const dir = fs.mkdtempSync(path.join(work, 'v-'));
    const refDir = fs.mkdtempSync(path.join(work, 'ref-'));
    const study = newUid();
    const series = newUid();
    const instances = originals().map((f) => {
      fs.copyFileSync(f, path.join(refDir, path.basename(f)));
      const out = path.join(dir, path.basename(f));
      execFileSync(v.tool, [...v.args, f, out]);
      // new UIDs with DCMTK itself (no re-encoding of the compressed pixel data)
      const sop = newUid();
      execFileSync('dcmodify', [
        '-nb',
        '-m',
        `(0020,000d)=${study}`,
        '-m',
        `(0020,000e)=${series}`,
        '-m',
        `(0008,0018)=${sop}`,
        out,
      ]);
      if (reference === 'dcmdjpeg') execFileSync('dcmdjpeg', [out, path.join(refDir, path.basename(f))]);
      const bytes = new Uint8Array(fs.readFileSync(out));
      return {
        bytes: edit ? edit(bytes) : bytes,
        studyInstanceUid: study,
        seriesInstanceUid: series,
        sopInstanceUid: sop,
      };
    });
    const dump = execFileSync(
      'dcmdump',
      ['-M', '-Un', '+P', '0002,0010', path.join(dir, path.basename(originals()[0]))],
      { encoding: 'utf8' },
    );
    expect(dump).toContain(v.ts);
    await stowInstances(transport, instances);
    return { study, series, refDir, sops: instances.map((i) => i.sopInstanceUid) };
  }

  test.each(VARIANTS)('$name', async (v) => {
    const { study, series, refDir } = await upload(v);
    const ref = readReference(refDir, v.pointTransform !== undefined);
    const r = await readSeries(transport, study, series);
    expect(r.transferSyntaxUids).toEqual([v.ts]);
    const [nx, ny, nz] = r.volume.dims;
    expect([nx, ny, nz]).toEqual(ref.dims);
    // decoded by the worker pool: the same voxels
    // read with one series-level request (the default); frame by frame with the worker pool: the same voxels
    expect(r.retrieval).toBe('series');
    const pooled = await readSeries(transport, study, series, {
      codecs: pooledCodecs(pool, defaultCodecs()),
      retrieval: 'frames',
    });
    expect(sha256(pooled.volume.data)).toBe(sha256(r.volume.data));
    if (v.pointTransform === undefined) {
      const hashes = Array.from({ length: nz }, (_, k) =>
        sha256(r.volume.data.subarray(k * nx * ny, (k + 1) * nx * ny)),
      );
      expect(hashes).toEqual(ref.sliceSha256);
      return;
    }
    // point transform: each original stored value with its low bits cleared (two's complement for signed data)
    const drop = ~((1 << v.pointTransform) - 1);
    let mismatches = 0;
    let changed = 0;
    for (let k = 0; k < nz; k++) {
      const m = r.instances[k].rescaleSlope!;
      const b = r.instances[k].rescaleIntercept!;
      for (let n = k * nx * ny; n < (k + 1) * nx * ny; n++) {
        const stored = Math.round((ref.raw![n] - b) / m);
        const expected = Math.fround((stored & drop) * m + b);
        if (r.volume.data[n] !== expected) mismatches++;
        if (expected !== ref.raw![n]) changed++;
      }
    }
    expect(changed).toBeGreaterThan(0); // the transform really dropped bits
    expect(mismatches).toBe(0);
  });

  test.each(TRANSCODED)('$name: voxel-identical to the original', async (v) => {
    const { study, series, refDir } = await upload(v);
    const ref = readReference(refDir);
    const r = await readSeries(transport, study, series);
    const [nx, ny, nz] = r.volume.dims;
    expect([nx, ny, nz]).toEqual(ref.dims);
    const hashes = Array.from({ length: nz }, (_, k) =>
      sha256(r.volume.data.subarray(k * nx * ny, (k + 1) * nx * ny)),
    );
    expect(hashes).toEqual(ref.sliceSha256);
    // Orthanc refuses these as stored (500 to transfer-syntax=*) and transcodes them on request
    expect(r.transcodedByPacs).toBe(true);
    expect(r.transferSyntaxUids).toEqual(['1.2.840.10008.1.2.1']);
  });

  test.each(JPEG_LOSSY)('$name: the same values as DCMTK decodes, close to the original', async (v) => {
    const { study, series, refDir } = await upload(v, undefined, 'dcmdjpeg');
    const ref = readReference(refDir, true);
    const r = await readSeries(transport, study, series);
    expect(r.transferSyntaxUids).toEqual([v.ts]);
    const [nx, ny, nz] = r.volume.dims;
    expect([nx, ny, nz]).toEqual(ref.dims);
    const hashes = Array.from({ length: nz }, (_, k) =>
      sha256(r.volume.data.subarray(k * nx * ny, (k + 1) * nx * ny)),
    );
    expect(hashes).toEqual(ref.sliceSha256);
    // and lossy, but close to the uncompressed original (a sanity bound, not the truth)
    const origDir = fs.mkdtempSync(path.join(work, 'orig-'));
    for (const f of originals()) fs.copyFileSync(f, path.join(origDir, path.basename(f)));
    const original = readReference(origDir, true);
    let sum = 0;
    for (let n = 0; n < r.volume.data.length; n++) sum += Math.abs(r.volume.data[n] - original.raw![n]);
    const mae = sum / r.volume.data.length;
    expect(mae).toBeGreaterThan(0);
    expect(mae).toBeLessThan(v.ts.endsWith('.50') ? 40 : 15);
  });

  test('a truncated JPEG lossless frame: decode-failed naming the instance (no made-up pixels)', async () => {
    const { study, series, sops } = await upload(JPEG_LOSSLESS[0], (bytes) => {
      const { dict, transferSyntaxUid } = readPart10Raw(bytes);
      const frame = new Uint8Array((dict['7FE00010'].Value as ArrayBuffer[])[0]);
      dict['7FE00010'].Value = [frame.slice(0, Math.floor(frame.length * 0.6)).buffer];
      return writePart10Raw(dict, transferSyntaxUid);
    });
    const e = await readSeries(transport, study, series).catch((x) => x);
    expect(e).toBeInstanceOf(DicomError);
    expect(e.code).toBe('decode-failed');
    expect(sops.some((s) => e.message.includes(s))).toBe(true);
    // the pool's worker fails the same way, with the same words
    const pooled = await readSeries(transport, study, series, {
      codecs: pooledCodecs(pool, defaultCodecs()),
      concurrency: 1,
    }).catch((x) => x);
    expect(pooled).toBeInstanceOf(DicomError);
    expect(pooled.code).toBe('decode-failed');
    const first = await readSeries(transport, study, series, { concurrency: 1 }).catch((x) => x);
    expect(pooled.message).toBe(first.message);
  });
});
