/**
 * The viewport warning overlay: which images it marks (read back from the
 * Part 10 bytes the product's own writers build, naturalized as OHIF keeps
 * instance metadata), the "unsaved" mark of a series shown from memory, and
 * their registration in @ohif/core's real CustomizationService on mode entry
 * (prepended to the top-left overlay, once, whatever the number of entries).
 * The rendering in the viewer is checked by test/viewer/panels.test.ts.
 */
import { createOhifApp, loadOhifCore, type OhifCore } from '../../../../test/support/ohifCore';
import { NOT_FOR_DIAGNOSTIC_USE } from '../dicom/ctImage';
import { sourceSeries } from '../dicom/__fixtures__/sourceSeries';
import { readPart10 } from '../dicom/part10';
import { buildDerivedSeries } from '../dicom/writeDerivedSeries';
import { buildSyntheticStudy } from '../dicom/writeSyntheticStudy';
import { createPanels } from '../panels';
import { makeVolume } from '../volume/volume';
import { createExtension } from './extension';
import { addLocalSeries, releaseAllLocalSeries } from './localSeries';
import {
  isProductImage,
  OVERLAY_CUSTOMIZATION,
  OVERLAY_ITEM_ID,
  OVERLAY_TEST_ID,
  OVERLAY_TEXT,
  overlayElement,
  overlayItem,
  registerViewportOverlay,
  showsProductImage,
  showsUnsavedSeries,
  UNSAVED_ITEM_ID,
  UNSAVED_TEST_ID,
  UNSAVED_TEXT,
  unsavedElement,
  unsavedItem,
} from './viewportOverlay';

const grid = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const result = makeVolume([4, 4, 5], grid, new Float32Array(80).fill(40), 'HU');
const std = makeVolume([4, 4, 5], grid, new Float32Array(80).fill(3.5), 'HU-std');

/** Naturalized metadata of a built instance (what OHIF's display set holds). */
const natural = (bytes: Uint8Array) => readPart10(bytes).dataset as Record<string, unknown>;

describe('which images are marked', () => {
  const built = buildDerivedSeries({
    source: sourceSeries(3, { '00080070': { vr: 'LO', Value: ['SIEMENS'] } }),
    result,
    uncertainty: std,
    model: { name: 'geometry-ldm-demo', version: '0.1.0' },
    label: 'x4 z',
  });
  const synthetic = buildSyntheticStudy({
    volume: result,
    generation: {
      grid: [4, 4, 5],
      spacingMm: [1, 1, 1],
      fov: null,
      rotationDeg: [0, 0, 0],
      seed: 1,
      sampler: { name: 'ddim', steps: 50 },
      model: { name: 'geometry-ldm-demo', version: '0.1.0' },
    },
  });

  it('super-resolved, uncertainty and synthetic series, as written by the product', () => {
    expect(isProductImage(natural(built.result.instances[0].bytes))).toBe(true);
    expect(isProductImage(natural(built.uncertainty!.instances[0].bytes))).toBe(true);
    expect(isProductImage(natural(synthetic.series.instances[0].bytes))).toBe(true);
  });

  it('each marker alone suffices: processing equipment, ImageComments, SeriesDescription', () => {
    expect(isProductImage({ ContributingEquipmentSequence: [{ Manufacturer: 'geometry-ldm' }] })).toBe(true);
    expect(isProductImage({ ContributingEquipmentSequence: { Manufacturer: 'geometry-ldm' } })).toBe(true);
    expect(isProductImage({ ImageComments: `AI-GENERATED IMAGE. ${NOT_FOR_DIAGNOSTIC_USE}.` })).toBe(true);
    expect(isProductImage({ SeriesDescription: 'AI super-resolution x4 z - NOT FOR DIAGNOSTIC USE' })).toBe(
      true,
    );
  });

  it('an ordinary CT instance is not marked', () => {
    const ct = {
      Modality: 'CT',
      Manufacturer: 'SIEMENS',
      SeriesDescription: 'THORAX 1.0 B31f',
      ContributingEquipmentSequence: [{ Manufacturer: 'Agfa' }],
    };
    expect(isProductImage(ct)).toBe(false);
    expect(isProductImage(undefined)).toBe(false);
    expect(showsProductImage({ displaySets: [{ instances: [ct], SeriesDescription: 'THORAX' }] })).toBe(
      false,
    );
  });

  it('a viewport is marked when any of its display sets is (fused result + std; volume viewports)', () => {
    const ct = { Modality: 'CT', Manufacturer: 'SIEMENS' };
    const ours = natural(built.result.instances[0].bytes);
    expect(showsProductImage({ displaySets: [{ instances: [ct] }, { instances: [ours] }] })).toBe(true);
    expect(showsProductImage({ displaySets: [{ instance: ours }] })).toBe(true);
    expect(showsProductImage({ referenceInstance: ours })).toBe(true);
    expect(showsProductImage(null)).toBe(false);
  });

  it('renders the full text in a block element (not a span, which OHIF cuts with an ellipsis)', () => {
    const el = overlayElement();
    expect(el.type).toBe('div');
    expect((el.props as Record<string, unknown>)['data-testid']).toBe(OVERLAY_TEST_ID);
    expect((el.props as { children: unknown }).children).toBe(OVERLAY_TEXT);
    expect(OVERLAY_TEXT).toBe('AI-generated — NOT FOR DIAGNOSTIC USE');
  });
});

describe('the unsaved mark', () => {
  afterEach(() => releaseAllLocalSeries());

  it('marks a viewport showing a series held in memory, and no other; gone once released', async () => {
    const built = buildDerivedSeries({
      source: sourceSeries(3, { '00080070': { vr: 'LO', Value: ['SIEMENS'] } }),
      result,
      model: { name: 'geometry-ldm-demo', version: '0.1.0' },
      label: 'UNSAVED x4 z',
    });
    const seriesUid = built.result.seriesInstanceUid;
    const props = { displaySets: [{ SeriesInstanceUID: '1.2.826.0.1.2' }, { SeriesInstanceUID: seriesUid }] };
    expect(showsUnsavedSeries(props)).toBe(false);
    const local = await addLocalSeries(
      {
        displaySetService: {
          makeDisplaySets: () => [{ displaySetInstanceUID: 'ds-1', SeriesInstanceUID: seriesUid }],
        },
        createObjectURL: () => 'blob:http://viewer.test/1',
        revokeObjectURL: () => undefined,
      },
      built.result.instances,
    );
    expect(showsUnsavedSeries(props)).toBe(true);
    expect(unsavedItem.condition(props)).toBe(true);
    expect(showsUnsavedSeries({ instance: { SeriesInstanceUID: seriesUid } })).toBe(true);
    expect(showsUnsavedSeries({ displaySets: [{ SeriesInstanceUID: '1.2.826.0.1.2' }] })).toBe(false);
    expect(showsUnsavedSeries(null)).toBe(false);
    // the product's own warning still marks it
    expect(
      showsProductImage({ displaySets: [{ instances: [natural(built.result.instances[0].bytes)] }] }),
    ).toBe(true);
    await local.release();
    expect(showsUnsavedSeries(props)).toBe(false);
  });

  it('renders its text whole in a block element of its own', () => {
    const el = unsavedElement();
    expect(el.type).toBe('div');
    expect((el.props as Record<string, unknown>)['data-testid']).toBe(UNSAVED_TEST_ID);
    expect((el.props as { children: unknown }).children).toBe(UNSAVED_TEXT);
    expect(UNSAVED_TEXT).toBe('Unsaved result — not stored in the PACS');
  });
});

describe('registration in the real CustomizationService', () => {
  let core: OhifCore;
  beforeAll(() => {
    core = loadOhifCore();
  });

  /** Cornerstone's default top-left overlay (study date, series description), as OHIF 3.13 registers it. */
  const DEFAULT_TOP_LEFT = [
    { id: 'StudyDate', inheritsFrom: 'ohif.overlayItem' },
    { id: 'SeriesDescription', inheritsFrom: 'ohif.overlayItem' },
  ];

  it('every mode entry prepends the item once to the top-left overlay', async () => {
    const app = createOhifApp(core, {});
    const extension = createExtension({ createPanels, defaultWorkerUrl: 'http://viewer.test/w.js' });
    await app.extensionManager.registerExtension(extension, {}, []);
    const cs = app.services.customizationService;
    cs.init(app.extensionManager); // as OHIF's appInit does
    cs.setCustomizations({ [OVERLAY_CUSTOMIZATION]: DEFAULT_TOP_LEFT }, 'default');
    for (let entry = 0; entry < 3; entry++) {
      app.extensionManager.onModeEnter();
      const items = cs.getCustomization(OVERLAY_CUSTOMIZATION) as { id: string }[];
      expect(items.map((i) => i.id)).toEqual([
        OVERLAY_ITEM_ID,
        UNSAVED_ITEM_ID,
        'StudyDate',
        'SeriesDescription',
      ]);
    }
    // the default scope is untouched (other viewers of the same OHIF keep theirs)
    expect(
      (cs.getCustomizations('default').get(OVERLAY_CUSTOMIZATION) as { id: string }[]).map((i) => i.id),
    ).toEqual(['StudyDate', 'SeriesDescription']);
    // what OHIF's overlay calls
    const item = (cs.getCustomization(OVERLAY_CUSTOMIZATION) as (typeof overlayItem)[])[0];
    expect(
      item.condition({ displaySets: [{ SeriesDescription: `SYNTHETIC - ${NOT_FOR_DIAGNOSTIC_USE}` }] }),
    ).toBe(true);
    expect(item.condition({ displaySets: [{ SeriesDescription: 'THORAX' }] })).toBe(false);
  });

  it('a site-wide (global) top-left overlay gets the item too, never twice', () => {
    const app = createOhifApp(core, {});
    const cs = app.services.customizationService;
    cs.setCustomizations({ [OVERLAY_CUSTOMIZATION]: [{ id: 'SiteItem' }] }, 'global');
    expect(registerViewportOverlay(cs)).toBe(true);
    expect(registerViewportOverlay(cs)).toBe(true);
    expect((cs.getCustomization(OVERLAY_CUSTOMIZATION) as { id: string }[]).map((i) => i.id)).toEqual([
      OVERLAY_ITEM_ID,
      UNSAVED_ITEM_ID,
      'SiteItem',
    ]);
    expect(registerViewportOverlay(undefined)).toBe(false);
  });
});
