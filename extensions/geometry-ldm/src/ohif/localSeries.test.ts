/**
 * In-memory series: the Part 10 instances the product's writer builds, put
 * into an OHIF-shaped viewer (a display set service that behaves as OHIF
 * 3.13's does, including deleteDisplaySet's splice(-1) on an unknown uid, and a
 * Cornerstone cache). What OHIF receives (naturalized metadata pointing at
 * `wadouri:blob:` imageIds), the order (images loaded before display sets are
 * made), and release: only once no viewport shows the series, everything it
 * created is gone. The rendering in the real viewer is checked by
 * test/viewer/panels.test.ts.
 */
import { buildDerivedSeries } from '../dicom/writeDerivedSeries';
import { sourceSeries } from '../dicom/__fixtures__/sourceSeries';
import { makeVolume } from '../volume/volume';
import {
  addLocalSeries,
  isUnsavedSeries,
  localInstanceMetadata,
  LocalSeriesError,
  releaseAllLocalSeries,
  type LocalSeriesHost,
} from './localSeries';

const grid = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const built = () =>
  buildDerivedSeries({
    source: sourceSeries(),
    result: makeVolume([4, 4, 5], grid, new Float32Array(80).fill(40), 'HU'),
    uncertainty: makeVolume([4, 4, 5], grid, new Float32Array(80).fill(3.5), 'HU-std'),
    model: { name: 'geometry-ldm-demo', version: '0.1.0' },
    label: 'UNSAVED x4 z',
  });

type Instance = Record<string, unknown>;

/** A viewer as OHIF 3.13 behaves: display sets by series, a Cornerstone cache, Blob URLs, a grid. */
function fakeViewer(options: { failLoad?: string } = {}) {
  const events: string[] = [];
  const active: { displaySetInstanceUID: string; SeriesInstanceUID: string; instances: Instance[] }[] = [
    { displaySetInstanceUID: 'ds-source', SeriesInstanceUID: '1.2.826.0.1.2', instances: [] },
  ];
  const images = new Set<string>();
  const volumes: { volumeId: string; imageIds: string[] }[] = [];
  const urls = new Set<string>();
  const shown = new Set<string>();
  let n = 0;
  const host: LocalSeriesHost = {
    displaySetService: {
      makeDisplaySets(instances, opts) {
        events.push(`make ${instances.length} madeInClient=${opts?.madeInClient}`);
        const ds = {
          displaySetInstanceUID: `ds-${++n}`,
          SeriesInstanceUID: String(instances[0].SeriesInstanceUID),
          instances,
        };
        active.push(ds);
        return [ds];
      },
      getDisplaySetsForSeries: (uid) => active.filter((d) => d.SeriesInstanceUID === uid),
      getDisplaySetByUID: (uid) => active.find((d) => d.displaySetInstanceUID === uid),
      deleteDisplaySet(uid) {
        // OHIF 3.13: an unknown uid removes the LAST display set
        active.splice(
          active.findIndex((d) => d.displaySetInstanceUID === uid),
          1,
        );
        events.push(`delete ${uid}`);
      },
    },
    cornerstone: {
      imageLoader: {
        loadAndCacheImage: async (imageId) => {
          if (options.failLoad && images.size === 1) throw new Error(options.failLoad);
          images.add(imageId);
          events.push('load');
          return {};
        },
      },
      cache: {
        getImageLoadObject: (id) => (images.has(id) ? {} : undefined),
        removeImageLoadObject: (id) => void images.delete(id),
        getVolumes: () => volumes,
        removeVolumeLoadObject: (id) =>
          void volumes.splice(
            volumes.findIndex((v) => v.volumeId === id),
            1,
          ),
      },
    },
    createObjectURL: (blob) => {
      expect(blob.type).toBe('application/dicom');
      const u = `blob:http://viewer.test/${urls.size + 1}-${Math.random()}`;
      urls.add(u);
      return u;
    },
    revokeObjectURL: (u) => void urls.delete(u),
    inUse: (uid) => shown.has(uid),
    releaseTimeoutMs: 500,
  };
  return { host, events, active, images, volumes, urls, shown };
}

afterEach(() => releaseAllLocalSeries());

describe('a series shown from memory', () => {
  it('gives OHIF naturalized metadata (no pixel data) whose imageId is the Blob URL under the wadouri scheme', () => {
    const inst = built().result.instances[0];
    const m = localInstanceMetadata(inst.bytes, 'wadouri:blob:http://viewer.test/x');
    expect(m).toMatchObject({
      SOPInstanceUID: inst.sopInstanceUid,
      SeriesInstanceUID: inst.seriesInstanceUid,
      StudyInstanceUID: '1.2.826.0.1.1',
      Modality: 'CT',
      url: 'wadouri:blob:http://viewer.test/x',
      imageId: 'wadouri:blob:http://viewer.test/x',
    });
    expect(m.SeriesDescription).toBe('AI super-resolution UNSAVED x4 z - NOT FOR DIAGNOSTIC USE');
    expect(m.PixelData).toBeUndefined();
    expect(m._vrMap).toBeUndefined();
  });

  it('loads every image into Cornerstone first, then makes the display set (madeInClient), marked unsaved', async () => {
    const v = fakeViewer();
    const series = built().result;
    const local = await addLocalSeries(v.host, series.instances);
    expect(v.events).toEqual([...series.instances.map(() => 'load'), 'make 5 madeInClient=true']);
    expect(local.seriesInstanceUid).toBe(series.seriesInstanceUid);
    expect(local.displaySetInstanceUID).toBe('ds-1');
    expect(local.imageIds).toHaveLength(5);
    for (const id of local.imageIds) expect(id).toMatch(/^wadouri:blob:http:\/\/viewer\.test\//);
    expect([...v.images].sort()).toEqual([...local.imageIds].sort());
    const ds = v.active.find((d) => d.displaySetInstanceUID === 'ds-1')!;
    expect(ds.instances.map((i) => i.imageId)).toEqual(local.imageIds);
    expect(isUnsavedSeries(series.seriesInstanceUid)).toBe(true);
    expect(isUnsavedSeries('1.2.826.0.1.2')).toBe(false);
  });

  it('is released only once no viewport shows it; then its display set, images, volumes and URLs are gone', async () => {
    const v = fakeViewer();
    const series = built().result;
    const local = await addLocalSeries(v.host, series.instances);
    v.volumes.push({ volumeId: 'cornerstoneStreamingImageVolume:ds-1', imageIds: [...local.imageIds] });
    v.volumes.push({ volumeId: 'other', imageIds: ['wadors:x'] });
    v.shown.add('ds-1');
    const released = local.release();
    await new Promise((r) => setTimeout(r, 250));
    expect(v.active.map((d) => d.displaySetInstanceUID)).toEqual(['ds-source', 'ds-1']);
    v.shown.delete('ds-1'); // the grid now shows the stored copy
    await expect(released).resolves.toBe(true);
    expect(v.active.map((d) => d.displaySetInstanceUID)).toEqual(['ds-source']);
    expect(v.images.size).toBe(0);
    expect(v.volumes.map((x) => x.volumeId)).toEqual(['other']);
    expect(v.urls.size).toBe(0);
    expect(isUnsavedSeries(series.seriesInstanceUid)).toBe(false);
    // idempotent: never deletes another display set (OHIF's splice(-1) on an unknown uid)
    await expect(local.release()).resolves.toBe(true);
    expect(v.active.map((d) => d.displaySetInstanceUID)).toEqual(['ds-source']);
  });

  it('left in place when a viewport still shows it at the timeout; mode exit releases it', async () => {
    const v = fakeViewer();
    const local = await addLocalSeries(v.host, built().result.instances);
    v.shown.add('ds-1');
    await expect(local.release()).resolves.toBe(false);
    expect(v.active).toHaveLength(2);
    expect(v.urls.size).toBe(5);
    releaseAllLocalSeries();
    expect(v.active.map((d) => d.displaySetInstanceUID)).toEqual(['ds-source']);
    expect(v.urls.size).toBe(0);
    expect(isUnsavedSeries(local.seriesInstanceUid)).toBe(false);
  });

  it('an image that does not load: a plain error, nothing left behind', async () => {
    const v = fakeViewer({ failLoad: 'decode failed' });
    const series = built().result;
    await expect(addLocalSeries(v.host, series.instances)).rejects.toThrow(
      new LocalSeriesError('the viewer could not load the images: decode failed'),
    );
    expect(v.active).toHaveLength(1);
    expect(v.urls.size).toBe(0);
    expect(v.images.size).toBe(0);
    expect(isUnsavedSeries(series.seriesInstanceUid)).toBe(false);
  });

  it('refuses instances of several series, a series already shown, or no display set service', async () => {
    const v = fakeViewer();
    const b = built();
    await expect(
      addLocalSeries(v.host, [b.result.instances[0], b.uncertainty!.instances[0]]),
    ).rejects.toThrow('exactly one series');
    await addLocalSeries(v.host, b.result.instances);
    await expect(addLocalSeries(v.host, b.result.instances)).rejects.toThrow('already in the viewer');
    await expect(addLocalSeries({ displaySetService: undefined }, b.result.instances)).rejects.toThrow(
      'no display set service',
    );
    expect(v.urls.size).toBe(5);
  });

  it('without the host Cornerstone, still shown (nothing preloaded)', async () => {
    const v = fakeViewer();
    const local = await addLocalSeries({ ...v.host, cornerstone: null }, built().result.instances);
    expect(v.events).toEqual(['make 5 madeInClient=true']);
    await expect(local.release()).resolves.toBe(true);
    expect(v.active).toHaveLength(1);
  });
});
