/**
 * The panels rendered to HTML (react-dom/server) with a real EngineSession
 * whose worker answers `init` like the engine does, the real OHIF adapter over
 * OHIF-shaped services holding a real CT series' metadata, and a manifest
 * served to the real manifest loader. Checks structure and accessibility:
 * every form control is labelled, buttons are buttons, the backend, the model
 * card and "not for diagnostic use" are visible.
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import type { GeometryLdmConfig } from '../ohif/config';
import type { DisplaySet, InstanceMetadata } from '../ohif/ohifTypes';
import type { WorkerLike } from '../worker/engineClient';
import type { MainToWorker, WorkerToMain } from '../worker/protocol';
import { readSeriesHeaders } from '../../../../test/support/sharedData';
import type { ModelManifest } from '../model/manifest';
import { testManifest } from './__fixtures__/manifest';
import { createPanelEnv, createPanels } from './index';
import { EstimateView } from './ui/engineViews';
import { GeneratePanel } from './ui/GeneratePanel';
import type { PanelEnv } from './ui/panelEnv';
import { SuperResolvePanel } from './ui/SuperResolvePanel';

// a model that records its per-call costs (metrics.perCallSeconds), so the panels show a prior estimate
const manifest: ModelManifest = {
  ...testManifest(),
  metrics: {
    perCallSeconds: [
      { backend: 'wasm', threads: 2, imageVoxels: 96 * 96 * 104, encode: 0.1, unet: 0.088, decode: 0.459 },
      {
        backend: 'wasm',
        threads: 2,
        imageVoxels: 192 * 192 * 208,
        encode: 0.987,
        unet: 0.278,
        decode: 5.468,
      },
    ],
  },
};
const config: GeometryLdmConfig = {
  modelUrl: 'http://viewer.test/geometry-ldm/models/m/',
  ortWasmUrl: 'http://viewer.test/geometry-ldm/ort/',
  workerUrl: 'http://viewer.test/geometry-ldm/bundles/engine-worker.js',
  preferWebGPU: false,
};

/** A worker that answers `init` with the engine's `ready` message for the test manifest. */
function readyWorker(): WorkerLike {
  let listener: ((e: { data: WorkerToMain }) => void) | null = null;
  return {
    postMessage(message: MainToWorker) {
      if (message.type !== 'init') return;
      const ready: WorkerToMain = {
        type: 'ready',
        backend: { library: 'onnxruntime-web', executionProvider: 'wasm', threads: 2 },
        model: {
          name: manifest.name,
          version: manifest.version,
          intendedUse: manifest.intendedUse,
          licence: manifest.licence,
        },
        files: [],
        tiling: { maxImageVoxelsPerCall: 2 * 2 ** 20 },
      };
      setTimeout(() => listener?.({ data: ready }));
    },
    addEventListener(type: string, l: unknown) {
      if (type === 'message') listener = l as (e: { data: WorkerToMain }) => void;
    },
    terminate() {},
  } as WorkerLike;
}

function services(displaySets: DisplaySet[]) {
  const viewports = new Map([['vp-1', { displaySetInstanceUIDs: [displaySets[0].displaySetInstanceUID] }]]);
  return {
    services: {
      displaySetService: {
        EVENTS: { DISPLAY_SETS_ADDED: 'added' },
        subscribe: () => ({ unsubscribe() {} }),
        getActiveDisplaySets: () => displaySets,
        getDisplaySetByUID: (uid: string) => displaySets.find((d) => d.displaySetInstanceUID === uid),
      },
      viewportGridService: { getState: () => ({ activeViewportId: 'vp-1', viewports }) },
      uiNotificationService: { show: () => undefined },
    },
  };
}

let env: PanelEnv;

beforeAll(async () => {
  const instances = readSeriesHeaders('lung-pet-ct-dx-a0002').map(
    (h) => h.dataset as unknown as InstanceMetadata,
  );
  const first = instances[0] as unknown as Record<string, string>;
  const ct: DisplaySet = {
    displaySetInstanceUID: 'ds-ct',
    StudyInstanceUID: first.StudyInstanceUID,
    SeriesInstanceUID: first.SeriesInstanceUID,
    SeriesDescription: 'chest',
    SeriesNumber: 2,
    Modality: 'CT',
    instances,
  };
  const sr: DisplaySet = { displaySetInstanceUID: 'ds-sr', Modality: 'SR', instances: [] };
  const fetchManifest = (async () =>
    new Response(JSON.stringify(manifest), { status: 200 })) as unknown as typeof fetch;
  env = createPanelEnv(
    { servicesManager: services([ct, sr]), commandsManager: {}, extensionManager: {}, config },
    { createWorker: readyWorker, fetch: fetchManifest },
  );
  await env.engine.ensureReady();
});

afterAll(() => env?.engine.dispose());

/** Ids of labelled controls: <label for>, or aria-label on the control. */
function unlabelledControls(html: string): string[] {
  const labelled = new Set([...html.matchAll(/<label[^>]*\sfor="([^"]+)"/g)].map((m) => m[1]));
  const bad: string[] = [];
  for (const m of html.matchAll(/<(input|select|textarea)\b([^>]*)>/g)) {
    const attrs = m[2];
    const id = /\sid="([^"]+)"/.exec(attrs)?.[1];
    if (/\saria-label="/.test(attrs)) continue;
    if (!id || !labelled.has(id)) bad.push(m[0]);
  }
  return bad;
}

function buttonsWithoutType(html: string): string[] {
  return [...html.matchAll(/<button\b([^>]*)>/g)].filter((m) => !/type="button"/.test(m[1])).map((m) => m[0]);
}

describe('super-resolve panel markup', () => {
  let html: string;
  beforeAll(() => {
    html = renderToStaticMarkup(createElement(SuperResolvePanel, { env }));
  });

  it('labels every control, uses real buttons, no positive tabindex', () => {
    expect(unlabelledControls(html)).toEqual([]);
    expect(buttonsWithoutType(html)).toEqual([]);
    expect(html).not.toMatch(/tabindex="[1-9]/i);
    // inputs found at all (the form rendered)
    expect((html.match(/<input/g) ?? []).length).toBeGreaterThan(10);
  });

  it('shows backend, model card and the not-for-diagnostic-use banner', () => {
    expect(html).toContain('Backend: wasm (CPU), 2 threads');
    expect(html).toContain('Model: panel-test-model 0.1.0');
    expect(html).toContain('research, not for diagnosis');
    expect(html).toContain('NOT FOR DIAGNOSTIC USE');
  });

  it('keeps the model name, version and intended use outside any collapsed disclosure', () => {
    const card = /<section class="gldm-card" aria-label="Model card">(.*?)<\/section>/.exec(html)?.[1] ?? '';
    const open = card.slice(0, card.indexOf('<details'));
    expect(open).toContain('Model: panel-test-model 0.1.0');
    expect(open).toContain('Intended use: <strong>research, not for diagnosis</strong>');
  });

  it('defaults to the active viewport series, shows its grid, fits the region and plans', () => {
    expect(html).toMatch(/<option value="ds-ct" selected="">#2 chest — CT, 30 images<\/option>/);
    expect(html).not.toContain('ds-sr'); // structured reports are not image series
    expect(html).toContain('512 × 512 × 30');
    expect(html).toContain('0.65 × 0.65 × 8.00 mm');
    // x4 slices on a 512² series does not fit 256: the region is fitted to 256 x 256 x 30 -> result 256 x 256 x 120
    expect(html).toContain('columns 129–384, rows 129–384, slices 1–30');
    expect(html).toContain('256 × 256 × 120');
    expect(html).toMatch(/<button type="button" class="gldm-btn gldm-wide">Super-resolve<\/button>/);
  });

  it('has the estimate section (not yet calibrated)', () => {
    expect(html).toContain('Estimate (wasm (CPU), 2 threads)');
    expect(html).toContain('not measured yet');
    // a time for this backend before any measurement, labelled approximate
    expect(html).toMatch(
      /Time<\/dt><dd>roughly [^<]+ <span class="gldm-hint">\(denoising [^)]+\)<\/span><\/dd>/,
    );
    expect(html).toContain(
      'Approximate (not measured yet on this machine): from the costs recorded in the model description with wasm, 2 threads.',
    );
    expect(html).toMatch(/Memory<\/dt><dd>about [\d.]+ (MiB|GiB)/);
    expect(html).toContain('the engine tiles model calls above about 128³ voxels');
  });
});

describe('estimate of settings with errors', () => {
  it('says the settings need a change instead of "not measured yet"', () => {
    const view = (invalid: boolean) =>
      renderToStaticMarkup(
        createElement(EstimateView, {
          time: null,
          timeBasis: null,
          priorBasis: null,
          memory: null,
          snapshot: env.engine.getSnapshot(),
          onCalibrate: () => undefined,
          invalid,
        }),
      );
    expect(view(true)).toContain('Time</dt><dd>— (the settings need a change: see below)</dd>');
    expect(view(true)).not.toContain('not measured yet');
    expect(view(false)).toContain('Time</dt><dd>not measured yet</dd>');
  });
});

describe('generate panel markup', () => {
  let html: string;
  beforeAll(() => {
    html = renderToStaticMarkup(createElement(GeneratePanel, { env }));
  });

  it('labels every control and uses real buttons', () => {
    expect(unlabelledControls(html)).toEqual([]);
    expect(buttonsWithoutType(html)).toEqual([]);
  });

  it('offers the paper geometries, disabling the one outside the model range, and the body-range picker', () => {
    expect(html).toMatch(/<option value="paper-272" disabled="">Paper 272 × 272 × 288, full range — outside/);
    expect(html).toMatch(/<option value="paper-96">Paper 96 × 96 × 104, full range<\/option>/);
    expect(html).toContain('w: 0 = inferior; 1 = superior');
    expect(html).toContain('Rotation (degrees about x, y, z)');
    expect(html).toContain('<option value="ddim" selected="">DDIM (fast)</option>');
    expect(html).toContain(
      'DDIM: a few steps, no noise added between them. The same seed gives the same image.',
    );
    expect(html).toContain('NOT FOR DIAGNOSTIC USE');
    expect(html).toContain('Backend: wasm (CPU), 2 threads');
  });

  it('shows the resolved spacing of the default geometry (trained size over the reference extent)', () => {
    // 64 voxels over 375 / 355 / 295 mm (centres at both ends): 375 / 63 = 5.95 mm, ...
    expect(html).toContain(
      `${(375 / 63).toFixed(2)} × ${(355 / 63).toFixed(2)} × ${(295 / 63).toFixed(2)} mm`,
    );
  });
});

describe('a panel whose engine is busy with another job', () => {
  it('says why its run button is greyed out (the other panel or a speed measurement)', async () => {
    const idle = renderToStaticMarkup(createElement(GeneratePanel, { env }));
    expect(idle).not.toContain('geometry-ldm-engine-busy');
    let busy = { generate: '', superResolve: '' };
    await env.engine.runExclusive(async () => {
      busy = {
        generate: renderToStaticMarkup(createElement(GeneratePanel, { env })),
        superResolve: renderToStaticMarkup(createElement(SuperResolvePanel, { env })),
      };
    });
    for (const html of Object.values(busy)) {
      expect(html).toContain('data-testid="geometry-ldm-engine-busy"');
      expect(html).toMatch(/The engine is busy with another job/);
    }
  });
});

describe('createPanels', () => {
  it('returns the two components the extension registers', () => {
    const panels = createPanels({
      servicesManager: services([{ displaySetInstanceUID: 'x', Modality: 'CT', instances: [] }]),
      commandsManager: {},
      extensionManager: {},
      config,
    });
    expect(typeof panels.generate).toBe('function');
    expect(typeof panels.superResolve).toBe('function');
    expect(renderToStaticMarkup(createElement(panels.generate))).toContain('Generate a synthetic CT');
  });
});
