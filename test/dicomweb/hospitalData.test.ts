/**
 * Hospital data that is subtly wrong (issue: nothing silently wrong). Real series of
 * ../shared/data, re-identified and edited the way misconfigured scanners, PACS and import
 * tools produce them, uploaded to a real Orthanc and read with readSeries. Each case must end
 * in a typed error that names the problem (or, for a localizer in the series, a volume
 * without it), never in a volume of wrong HU or invented anatomy.
 */
import * as path from 'node:path';
import { DicomError } from '../../extensions/geometry-ldm/src/dicom/errors';
import { readNotes, readSeries } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import type { DicomwebTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { readReference } from '../support/reference';
import { seriesDir } from '../support/seed';
import { uploadCopy, type RawDict } from '../support/uploadCopy';

let orthanc: OrthancInstance;
let transport: DicomwebTransport;

beforeAll(async () => {
  orthanc = await startOrthanc();
  transport = orthancTransport(orthanc);
}, 60000);

afterAll(async () => {
  await orthanc?.stop();
});

/** Files of a real series in the independent reader's order along the normal. */
function sorted(name: 'lung-pet-ct-dx-a0002' | 'ge-head-gantry-tilt'): string[] {
  const dir = seriesDir(name);
  return readReference(dir).slices.map((x) => path.join(dir, x.file));
}

async function readError(
  files: readonly string[],
  edit?: (dict: RawDict, n: number) => void,
  options: Parameters<typeof readSeries>[3] = { irregular: 'resample' },
): Promise<DicomError> {
  const { study, series } = await uploadCopy(transport, files, edit);
  const e = await readSeries(transport, study, series, options).then(
    () => null,
    (x) => x,
  );
  expect(e).toBeInstanceOf(DicomError);
  return e as DicomError;
}

const del = (tag: string) => (d: RawDict) => {
  delete d[tag];
};
const SLOPE = '00281053';
const INTERCEPT = '00281052';

describe('rescale: missing or invalid RescaleSlope/Intercept is refused, not assumed 1/0', () => {
  const eight = (): string[] => sorted('lung-pet-ct-dx-a0002').slice(10, 18);

  test('RescaleIntercept missing on every slice (was: +1024 HU everywhere)', async () => {
    const e = await readError(eight(), del(INTERCEPT));
    expect(e.code).toBe('invalid-rescale');
    expect(e.message).toMatch(/^RescaleIntercept is missing on 8 of 8 instances/);
  });

  test('RescaleSlope missing on 2 of 8 slices: the count and the instances', async () => {
    const { study, series, sops } = await uploadCopy(transport, eight(), (d, n) => {
      if (n === 3 || n === 6) delete d[SLOPE];
    });
    const e = (await readSeries(transport, study, series).catch((x) => x)) as DicomError;
    expect(e.code).toBe('invalid-rescale');
    expect(e.message).toMatch(/^RescaleSlope is missing on 2 of 8 instances/);
    expect([...(e.details.instances as string[])].sort()).toEqual([sops[3], sops[6]].sort());
  });

  test.each([
    ['1e30', /RescaleSlope is 1e\+30 on 8 of 8/],
    ['NaN', /RescaleSlope is not a number \(empty or unreadable in the PACS metadata\) on 8 of 8/],
  ])('RescaleSlope %s (was: saturated, or taken as 1)', async (value, message) => {
    const e = await readError(eight(), (d) => {
      d[SLOPE] = { vr: 'DS', Value: [value] };
    });
    expect(e.code).toBe('invalid-rescale');
    expect(e.message).toMatch(message);
  });
});

describe('pixel format: values that cannot be HU are refused with the numbers', () => {
  test('signed data (padding -1500) declared unsigned: implausible-values (was: +64036 HU)', async () => {
    const files = sorted('ge-head-gantry-tilt').slice(0, 8);
    const e = await readError(files, (d) => {
      d['00280103'] = { vr: 'US', Value: [0] };
      delete d['00280120']; // the padding value's VR follows PixelRepresentation
    });
    expect(e.code).toBe('implausible-values');
    expect(e.message).toMatch(/is not plausible CT: \d+\.\d % of voxels are above \+4000 HU \(max \d{5} HU/);
  });

  test('the same files as stored read fine: the real signed series is plausible', async () => {
    const files = sorted('ge-head-gantry-tilt').slice(0, 8);
    const { study, series } = await uploadCopy(transport, files);
    const r = await readSeries(transport, study, series, { irregular: 'resample' });
    expect(r.volume.dims[2]).toBeGreaterThanOrEqual(8);
  });

  test('8-bit BitsAllocated declared on 16-bit data: refused, no volume (was: garbage)', async () => {
    const e = await readError(sorted('lung-pet-ct-dx-a0002').slice(10, 18), (d) => {
      d['00280100'] = { vr: 'US', Value: [8] };
      d['00280101'] = { vr: 'US', Value: [8] };
      d['00280102'] = { vr: 'US', Value: [7] };
    });
    expect(e.code).toBe('decode-failed');
    expect(e.message).toMatch(
      /PixelData holds 524288 bytes, but Rows 512 x Columns 512 x BitsAllocated 8 needs 262144: the pixel module does not describe the data/,
    );
  });
});

describe('stacks with holes, localizers and too few slices', () => {
  test('a LOCALIZER slice 150 mm beyond the stack is left out: the 8 mm grid stays 8 mm', async () => {
    const files = sorted('lung-pet-ct-dx-a0002').slice(0, 10);
    const { study, series } = await uploadCopy(transport, files, (d, n) => {
      if (n !== 9) return;
      d['00080008'] = { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] };
      const ipp = (d['00200032'].Value as (string | number)[]).map(Number);
      d['00200032'] = { vr: 'DS', Value: [ipp[0], ipp[1], ipp[2] + 150] };
    });
    const r = await readSeries(transport, study, series, { irregular: 'resample' });
    expect(r.volume.dims[2]).toBe(9);
    expect(r.geometry.localizersDropped).toBe(1);
    expect(r.geometry.resampled).toBe(false);
    expect(Math.abs(r.geometry.stack.gapsMm[0] - 8)).toBeLessThan(1e-3);
    expect(readNotes(r)).toEqual(['1 localizer image left out']);
  });

  test('two missing slices (a 24 mm gap in an 8 mm series): slice-gap naming the gap; bridged only when asked', async () => {
    const files = sorted('lung-pet-ct-dx-a0002').slice(0, 12);
    files.splice(5, 2);
    const { study, series } = await uploadCopy(transport, files);
    const e = (await readSeries(transport, study, series, { irregular: 'resample' }).catch(
      (x) => x,
    )) as DicomError;
    expect(e).toBeInstanceOf(DicomError);
    expect(e.code).toBe('slice-gap');
    expect(e.message).toMatch(
      /a gap of 24\.0 mm between the slices at .* \(3\.0x the usual 8\.0 mm; slices 5 and 6 of 10/,
    );
    const r = await readSeries(transport, study, series, { irregular: 'resample', bridgeGaps: true });
    expect(r.geometry.bridgedGaps.map((h) => h.gapMm.toFixed(1))).toEqual(['24.0']);
    expect(readNotes(r)[0]).toMatch(/^gap of 24\.0 mm .* bridged by interpolation$/);
  });

  test('one missing slice (16 mm in an 8 mm series) is a hole too; the real 4 mm / 7 mm head series is not', async () => {
    const files = sorted('lung-pet-ct-dx-a0002').slice(0, 8);
    files.splice(4, 1);
    expect((await readError(files)).code).toBe('slice-gap');
    const head = await uploadCopy(transport, sorted('ge-head-gantry-tilt'));
    const r = await readSeries(transport, head.study, head.series, { irregular: 'resample' });
    expect(r.geometry.bridgedGaps).toEqual([]);
  });

  test.each([1, 3])('%i slice(s): too-few-slices', async (k) => {
    const e = await readError(sorted('lung-pet-ct-dx-a0002').slice(0, k));
    expect(e.code).toBe('too-few-slices');
    expect(e.message).toMatch(new RegExp(`^only ${k} slices?: a volume needs at least 4`));
  });
});
