import type { DicomJsonDataset } from '../dicom/dicomJson';
import { parseInstanceMetadata } from '../dicom/instanceMetadata';
import { buildDerivedSeries } from '../dicom/writeDerivedSeries';
import { releaseAllLocalSeries } from '../ohif/localSeries';
import { makeVolume } from '../volume/volume';
import {
  CORNERSTONE_UTILITY_MODULE,
  createOhifAdapter,
  forgetStudyMetadata,
  hostCornerstone,
  sideBySideViewports,
  stdOverlayOptions,
  SYNC_GROUP_ID,
} from './ohifAdapter';

describe('side-by-side layout', () => {
  it('source | result (+ std fused) in volume viewports sharing one camera sync group', () => {
    const [left, right] = sideBySideViewports({
      sourceUid: 'src',
      resultUid: 'res',
      stdUid: 'std',
      stdWindow: { center: 20, width: 40 },
      toolGroupId: 'tg',
    });
    expect(left.displaySetInstanceUIDs).toEqual(['src']);
    expect(right.displaySetInstanceUIDs).toEqual(['res', 'std']);
    for (const v of [left, right]) {
      expect(v.viewportOptions).toMatchObject({
        viewportType: 'volume',
        orientation: 'axial',
        toolGroupId: 'tg',
      });
      expect(v.viewportOptions.syncGroups).toEqual([
        { type: 'cameraPosition', id: SYNC_GROUP_ID, source: true, target: true },
      ]);
    }
    expect(right.displaySetOptions[1]).toEqual(stdOverlayOptions({ center: 20, width: 40 }));
    expect(right.displaySetOptions[0]).toEqual({}); // no source window known: the result's own
    const [, plain] = sideBySideViewports({
      sourceUid: 'src',
      resultUid: 'res',
      resultWindow: { center: -600, width: 1600 },
    });
    expect(plain.displaySetInstanceUIDs).toEqual(['res']);
    // the source's lung window carries over to the result
    expect(plain.displaySetOptions[0]).toEqual({ voi: { windowCenter: -600, windowWidth: 1600 } });
  });

  it('the std overlay is transparent at zero uncertainty and opaque-ish over the window', () => {
    const o = stdOverlayOptions({ center: 20, width: 40 }) as {
      colormap: { opacity: { value: number; opacity: number }[] };
      voi: { windowCenter: number; windowWidth: number };
    };
    expect(o.colormap.opacity).toEqual([
      { value: 0, opacity: 0 },
      { value: 4, opacity: 0.6 },
      { value: 40, opacity: 0.6 },
    ]);
    expect(o.voi).toEqual({ windowCenter: 20, windowWidth: 40 });
  });
});

describe('study metadata cache', () => {
  it('drops both keys OHIF 3.13 may hold a study under', () => {
    const deleted: string[] = [];
    forgetStudyMetadata(
      { getConfig: () => ({ name: 'pacs' }), deleteStudyMetadataPromise: (k) => void deleted.push(k) },
      '1.2.3',
    );
    expect(deleted).toEqual(['1.2.3', 'pacs:1.2.3']);
  });
});

function source(z: number): DicomJsonDataset {
  return {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
    '00080018': { vr: 'UI', Value: [`1.2.826.0.1.3.${z + 1}`] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '0020000D': { vr: 'UI', Value: ['1.2.826.0.1.1'] },
    '0020000E': { vr: 'UI', Value: ['1.2.826.0.1.2'] },
    '00200052': { vr: 'UI', Value: ['1.2.826.0.1.9'] },
    '00200032': { vr: 'DS', Value: [0, 0, 2 * z] },
    '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 1, 0] },
    '00280030': { vr: 'DS', Value: [1, 1] },
  };
}

describe('a result shown from memory', () => {
  afterEach(() => releaseAllLocalSeries());

  it("goes through the host's Cornerstone and display set service; the panels leave it out of the series to process", async () => {
    const grid = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    const built = buildDerivedSeries({
      source: [0, 1, 2].map((z) => parseInstanceMetadata(source(z))),
      result: makeVolume([4, 4, 5], grid, new Float32Array(80).fill(40), 'HU'),
      model: { name: 'geometry-ldm-demo', version: '0.1.0' },
      label: 'UNSAVED x4 z',
    });
    const loaded: string[] = [];
    const cornerstone = { imageLoader: { loadAndCacheImage: async (id: string) => void loaded.push(id) } };
    type Ds = { displaySetInstanceUID: string; SeriesInstanceUID: string; Modality: string };
    const displaySets: Ds[] = [
      { displaySetInstanceUID: 'ds-src', SeriesInstanceUID: '1.2.826.0.1.2', Modality: 'CT' },
    ];
    const viewports = new Map([['vp', { displaySetInstanceUIDs: ['ds-src'] }]]);
    const deps = {
      servicesManager: {
        services: {
          displaySetService: {
            getActiveDisplaySets: () => displaySets,
            getDisplaySetByUID: (uid: string) => displaySets.find((d) => d.displaySetInstanceUID === uid),
            getDisplaySetsForSeries: (uid: string) => displaySets.filter((d) => d.SeriesInstanceUID === uid),
            makeDisplaySets: (instances: Record<string, unknown>[]) => {
              const ds = {
                displaySetInstanceUID: 'ds-unsaved',
                SeriesInstanceUID: String(instances[0].SeriesInstanceUID),
                Modality: 'CT',
              };
              displaySets.push(ds);
              return [ds];
            },
            deleteDisplaySet: (uid: string) =>
              void displaySets.splice(
                displaySets.findIndex((d) => d.displaySetInstanceUID === uid),
                1,
              ),
          },
          viewportGridService: { getState: () => ({ activeViewportId: 'vp', viewports }) },
        },
      },
      commandsManager: {},
      extensionManager: {
        getModuleEntry: (id: string) =>
          id === CORNERSTONE_UTILITY_MODULE
            ? { exports: { getCornerstoneLibraries: () => ({ cornerstone }) } }
            : undefined,
      },
    };
    expect(hostCornerstone(deps)).toBe(cornerstone);
    expect(hostCornerstone({ ...deps, extensionManager: null })).toBeNull();
    const ohif = createOhifAdapter(deps);
    const local = await ohif.addLocalSeries(built.result.instances);
    expect(local.displaySetInstanceUID).toBe('ds-unsaved');
    expect(loaded).toHaveLength(5);
    for (const id of loaded) expect(id).toMatch(/^wadouri:blob:/);
    // not a series of the PACS: not offered to super-resolve, not "the active viewport's series"
    expect(ohif.listDisplaySets().map((d) => d.displaySetInstanceUID)).toEqual(['ds-src']);
    expect(ohif.activeDisplaySetUid()).toBe('ds-src');
    viewports.set('vp', { displaySetInstanceUIDs: ['ds-unsaved'] });
    expect(ohif.activeDisplaySetUid()).toBeNull();
    // released once the grid no longer shows it
    const released = local.release();
    await new Promise((r) => setTimeout(r, 200));
    expect(displaySets).toHaveLength(2);
    viewports.set('vp', { displaySetInstanceUIDs: ['ds-src'] });
    await expect(released).resolves.toBe(true);
    expect(displaySets.map((d) => d.displaySetInstanceUID)).toEqual(['ds-src']);
  });
});
