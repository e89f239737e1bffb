/**
 * Transfer syntaxes a PACS really returns: real slices transcoded with DCMTK
 * (dcmcrle, dcmcjpls, dcmcjpeg: RLE, JPEG-LS lossless, JPEG lossless SV1 and
 * process 14 with predictor 6), stored in Orthanc, fetched with
 * transfer-syntax=* and decoded on the client; compared voxel for voxel with
 * the independent reference read of the ORIGINAL uncompressed files.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSeries } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import { newUid } from '../../extensions/geometry-ldm/src/dicom/uids';
import type { DicomwebTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { readReference, sha256 } from '../support/reference';
import { seriesFiles, type RealSeries } from '../support/seed';

const VARIANTS = [
  { name: 'RLE', tool: 'dcmcrle', args: [], ts: '1.2.840.10008.1.2.5' },
  { name: 'JPEG-LS lossless', tool: 'dcmcjpls', args: [], ts: '1.2.840.10008.1.2.4.80' },
  { name: 'JPEG lossless SV1', tool: 'dcmcjpeg', args: ['+e1'], ts: '1.2.840.10008.1.2.4.70' },
  {
    name: 'JPEG lossless, predictor 6',
    tool: 'dcmcjpeg',
    args: ['+el', '+sv', '6'],
    ts: '1.2.840.10008.1.2.4.57',
  },
];
const SOURCES: RealSeries[] = ['lidc-idri-0001', 'lung-pet-ct-dx-a0002'];
const SLICES = 5;

let orthanc: OrthancInstance;
let transport: DicomwebTransport;
let work: string;

beforeAll(async () => {
  orthanc = await startOrthanc();
  transport = orthancTransport(orthanc);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'codecs-'));
}, 60000);

afterAll(async () => {
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

  test.each(VARIANTS)('$name', async (v) => {
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
      return {
        bytes: new Uint8Array(fs.readFileSync(out)),
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
    const ref = readReference(refDir);
    const r = await readSeries(transport, study, series);
    expect(r.transferSyntaxUids).toEqual([v.ts]);
    const [nx, ny, nz] = r.volume.dims;
    expect([nx, ny, nz]).toEqual(ref.dims);
    const hashes = Array.from({ length: nz }, (_, k) =>
      sha256(r.volume.data.subarray(k * nx * ny, (k + 1) * nx * ny)),
    );
    expect(hashes).toEqual(ref.sliceSha256);
  });
});
