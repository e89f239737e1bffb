/**
 * The unsaved result in the viewer: what is built (the writer's derived series
 * and std map, marked UNSAVED, numbered clear of the series in view), what is
 * put into the viewer and how it is laid out (source | result with the std map
 * fused), and that nothing is left behind when the viewer cannot show it.
 */
import { sourceSeries } from '../dicom/__fixtures__/sourceSeries';
import { readPart10 } from '../dicom/part10';
import type { LocalSeries } from '../ohif/localSeries';
import type { DisplaySet } from '../ohif/ohifTypes';
import { makeVolume } from '../volume/volume';
import type { SuperResolveRun } from './jobs';
import type { OhifAdapter } from './ohifAdapter';
import { percentileWindow } from './preview';
import { showUnsavedResult, UNSAVED_LABEL } from './viewerResult';

const grid = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const std = new Float32Array(80).map((_, n) => n / 10);
const run = {
  series: { studyInstanceUid: '1.2.826.0.1.1', seriesInstanceUid: '1.2.826.0.1.2' },
  instances: sourceSeries(),
  form: { target: { kind: 'scale', factors: [1, 1, 4] } },
  result: {
    mean: makeVolume([4, 4, 5], grid, new Float32Array(80).fill(40), 'HU'),
    std: makeVolume([4, 4, 5], grid, std, 'HU-std'),
    settings: { mode: 'ai', samples: 2, slices: { profile: 'box', widthMm: 5, reason: 'test' } },
    fidelity: { meanAbs: 0.25, p99Abs: 1.5, maxAbs: 2 },
  },
  model: { name: 'geometry-ldm-demo', version: '0.1.0' },
  displaySetUid: 'ds-src',
} as unknown as SuperResolveRun & { displaySetUid: string };

function fakeOhif(options: { failShow?: boolean } = {}) {
  const added: Record<string, unknown>[][] = [];
  const released: string[] = [];
  const layouts: unknown[] = [];
  const inView: DisplaySet[] = [
    { displaySetInstanceUID: 'ds-src', StudyInstanceUID: '1.2.826.0.1.1', SeriesNumber: 3 },
    { displaySetInstanceUID: 'ds-old', StudyInstanceUID: '1.2.826.0.1.1', SeriesNumber: 1003 },
    { displaySetInstanceUID: 'ds-other', StudyInstanceUID: '9.9', SeriesNumber: 1005 },
  ];
  const ohif = {
    listDisplaySets: () => inView,
    async addLocalSeries(instances: readonly { bytes: Uint8Array }[]): Promise<LocalSeries> {
      const meta = instances.map((i) => readPart10(i.bytes).dataset as Record<string, unknown>);
      added.push(meta);
      const uid = `ds-${added.length}`;
      return {
        displaySetInstanceUID: uid,
        seriesInstanceUid: String(meta[0].SeriesInstanceUID),
        imageIds: [],
        release: async () => {
          released.push(uid);
          return true;
        },
      };
    },
    async showSideBySide(args: unknown) {
      if (options.failShow) throw new Error('no viewport grid');
      layouts.push(args);
    },
  } as unknown as OhifAdapter;
  return { ohif, added, released, layouts };
}

describe('the unsaved result next to the source', () => {
  it('builds the derived series and its std map as the writer does, marked UNSAVED, and lays them out fused', async () => {
    const v = fakeOhif();
    const unsaved = await showUnsavedResult(v.ohif, run, true);
    expect(v.added).toHaveLength(2);
    const [result, stdSeries] = v.added;
    expect(result).toHaveLength(5);
    expect(result[0]).toMatchObject({
      StudyInstanceUID: '1.2.826.0.1.1',
      FrameOfReferenceUID: '1.2.826.0.1.9',
      SeriesDescription: `AI super-resolution ${UNSAVED_LABEL} CNN x4 z - NOT FOR DIAGNOSTIC USE`,
      // 1003 is in view already
      SeriesNumber: 1004,
    });
    expect(String(result[0].ImageComments)).toContain('NOT FOR DIAGNOSTIC USE');
    expect(stdSeries[0]).toMatchObject({
      SeriesDescription: `AI SR uncertainty ${UNSAVED_LABEL} CNN x4 z - NOT FOR DIAGNOSTIC USE`,
      SeriesNumber: 1005,
    });
    expect(result[0].SeriesInstanceUID).not.toBe('1.2.826.0.1.2');
    expect(unsaved).toMatchObject({
      resultUid: 'ds-1',
      stdUid: 'ds-2',
      resultSeriesInstanceUid: result[0].SeriesInstanceUID,
      stdSeriesInstanceUid: stdSeries[0].SeriesInstanceUID,
    });
    expect(v.layouts).toEqual([
      { sourceUid: 'ds-src', resultUid: 'ds-1', stdUid: 'ds-2', stdWindow: percentileWindow(std) },
    ]);
    await unsaved.release();
    expect(v.released.sort()).toEqual(['ds-1', 'ds-2']);
  });

  it('without the overlay: the result alone next to the source (the std map stays in the viewer)', async () => {
    const v = fakeOhif();
    await showUnsavedResult(v.ohif, run, false);
    expect(v.added).toHaveLength(2);
    expect(v.layouts).toEqual([{ sourceUid: 'ds-src', resultUid: 'ds-1' }]);
  });

  it('when the viewer cannot lay it out, the series are taken out again', async () => {
    const v = fakeOhif({ failShow: true });
    await expect(showUnsavedResult(v.ohif, run, true)).rejects.toThrow('no viewport grid');
    expect(v.released.sort()).toEqual(['ds-1', 'ds-2']);
  });
});
