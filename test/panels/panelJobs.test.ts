/**
 * @jest-environment ./models/training/ortJestEnvironment.cjs
 */
/**
 * The panels' jobs end to end, without the viewer: a real Orthanc seeded with
 * a real CT series, the real engine host (engineHost.ts) behind the real
 * engine client, connected in-process with postMessage semantics (structured
 * clone with transfer), running the tiny random-weight model on
 * onnxruntime-node (jest's VM cannot load onnxruntime-web's wasm glue: the
 * host gets onnxruntime-node behind the onnxruntime-web module shape).
 *
 * Independent truths: the trilinear baseline recomputed here from the DICOM
 * files (dcmjs, not the product's reader); what the PACS holds after saving
 * (Orthanc's own REST API and QIDO); the stored derived series read back
 * against the in-memory result (within half a rescale step).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ortNode from 'onnxruntime-node';
import dcmjs from 'dcmjs';
import { searchSeries } from '../../extensions/geometry-ldm/src/dicom/qido';
import { readSeries } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import type { ProgressEvent } from '../../extensions/geometry-ldm/src/inference/progress';
import type { OrtWebModule } from '../../extensions/geometry-ldm/src/inference/webRuntime';
import { EngineSession } from '../../extensions/geometry-ldm/src/panels/engineSession';
import {
  defaultGenerateForm,
  type GenerateForm,
} from '../../extensions/geometry-ldm/src/panels/generateModel';
import {
  runGeneration,
  runSuperResolution,
  saveGeneration,
  prepareSuperResolutionSave,
  saveSuperResolution,
  type SuperResolveRun,
} from '../../extensions/geometry-ldm/src/panels/jobs';
import { createPacs, newSaveIdentity, type Pacs } from '../../extensions/geometry-ldm/src/panels/pacs';
import { describeError } from '../../extensions/geometry-ldm/src/panels/panelErrors';
import type { SuperResolveForm } from '../../extensions/geometry-ldm/src/planning/superResolvePlan';
import type { WorkerLike } from '../../extensions/geometry-ldm/src/worker/engineClient';
import { startEngineHost, type MessageScopeLike } from '../../extensions/geometry-ldm/src/worker/engineHost';
import type { MainToWorker, WorkerToMain } from '../../extensions/geometry-ldm/src/worker/protocol';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { orthancTransport } from '../support/dicomweb';
import { seedSeries, type SeededSeries } from '../support/seed';
import { exportTinyModel, type ExportedModel } from '../support/tinyModel';

dcmjs.log?.setLevel?.('silent');

const MODEL_BASE = 'http://model.test/m/';

/** onnxruntime-node in the shape the web runtime expects (its 'wasm' sessions run on the CPU EP). */
function nodeOrtAsWeb(): OrtWebModule {
  return {
    env: { wasm: {} },
    Tensor: ortNode.Tensor,
    InferenceSession: {
      create: (bytes: Uint8Array, options?: Record<string, unknown>) =>
        ortNode.InferenceSession.create(bytes, {
          ...options,
          executionProviders: ['cpu'],
          intraOpNumThreads: 1,
        }),
    },
  } as unknown as OrtWebModule;
}

/** A worker in this process: messages are structured clones with their transfer lists, delivered asynchronously. */
function inProcessWorker(model: ExportedModel): WorkerLike {
  const toMain: ((e: { data: WorkerToMain }) => void)[] = [];
  const toWorker: ((e: { data: MainToWorker }) => void)[] = [];
  const scope: MessageScopeLike = {
    postMessage(message, transfer) {
      const copy = structuredClone(message, { transfer });
      setImmediate(() => toMain.forEach((l) => l({ data: copy })));
    },
    addEventListener(_type, listener) {
      toWorker.push(listener);
    },
    location: { href: MODEL_BASE },
  };
  const fetchFile = (async (url: string | URL) => {
    const p = new URL(String(url)).pathname.replace(/^\/m\//, '');
    const file = path.join(model.dir, p);
    if (!fs.existsSync(file)) return new Response('not found', { status: 404 });
    return new Response(fs.readFileSync(file));
  }) as unknown as typeof fetch;
  startEngineHost(scope, { ort: nodeOrtAsWeb(), fetch: fetchFile, cacheStorage: null });
  return {
    postMessage(message: MainToWorker, transfer: Transferable[]) {
      const copy = structuredClone(message, { transfer: transfer as Transferable[] });
      setImmediate(() => toWorker.forEach((l) => l({ data: copy })));
    },
    addEventListener(type: string, listener: unknown) {
      if (type === 'message') toMain.push(listener as (e: { data: WorkerToMain }) => void);
    },
    terminate() {},
  } as WorkerLike;
}

let orthanc: OrthancInstance;
let seeded: SeededSeries;
let model: ExportedModel;
let engine: EngineSession;
let pacs: Pacs;

beforeAll(async () => {
  model = exportTinyModel(0);
  orthanc = await startOrthanc();
  seeded = await seedSeries(orthancTransport(orthanc), 'lung-pet-ct-dx-a0002');
  engine = new EngineSession({
    manifestUrl: `${MODEL_BASE}model.json`,
    wasmPaths: 'http://model.test/ort/',
    preferWebGPU: false,
    createWorker: () => inProcessWorker(model),
    fetch: (async () =>
      new Response(fs.readFileSync(path.join(model.dir, 'model.json')))) as unknown as typeof fetch,
    storage: null,
  });
  pacs = createPacs({
    root: orthanc.dicomWebRoot,
    codecWasmUrl: 'http://unused.test/',
    headers: { Authorization: orthanc.authorization },
  });
}, 180000);

afterAll(async () => {
  await engine?.dispose();
  await orthanc?.stop();
  model?.remove();
});

/** Instances Orthanc's own REST API lists for a series (0 when it has none). */
async function orthancInstanceCount(seriesInstanceUid: string): Promise<number> {
  const auth = { authorization: orthanc.authorization };
  const res = await fetch(`${orthanc.url}/tools/lookup`, {
    method: 'POST',
    headers: auth,
    body: seriesInstanceUid,
  });
  const found = (await res.json()) as { ID: string; Type: string }[];
  const series = found.find((f) => f.Type === 'Series');
  if (!series) return 0;
  const s = (await (await fetch(`${orthanc.url}/series/${series.ID}`, { headers: auth })).json()) as {
    Instances: string[];
  };
  return s.Instances.length;
}

/** HU of the seeded series straight from its files with dcmjs, keyed by slice position (z) for sorting. */
function sourceSlicesFromFiles(): { z: number; hu: Float32Array; cols: number }[] {
  return seeded.files
    .map(({ file }) => {
      const buf = fs.readFileSync(file);
      const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
        dcmjs.data.DicomMessage.readFile(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength))
          .dict,
      ) as Record<string, unknown>;
      const bits = ds.PixelRepresentation === 1 ? Int16Array : Uint16Array;
      const raw = new bits((ds.PixelData as ArrayBuffer[])[0]);
      const slope = Number(ds.RescaleSlope ?? 1);
      const intercept = Number(ds.RescaleIntercept ?? 0);
      const hu = new Float32Array(raw.length);
      for (let n = 0; n < raw.length; n++) hu[n] = raw[n] * slope + intercept;
      return { z: Number((ds.ImagePositionPatient as number[])[2]), hu, cols: Number(ds.Columns) };
    })
    .sort((a, b) => a.z - b.z);
}

const form: SuperResolveForm = {
  // 32 x 32 columns/rows, 8 slices in the middle of the series; x4 along z -> 32 x 32 x 32.
  region: { start: [240, 250, 11], dims: [32, 32, 8] },
  target: { kind: 'scale', factors: [1, 1, 4] },
  settings: {
    mode: 'diffusion',
    slices: 'auto',
    tStart: 100,
    cycles: 2,
    ddimSteps: 2,
    samples: 2,
    seed: 7,
    bridgeGaps: false,
  },
};

describe('super-resolution job (read -> engine -> save)', () => {
  let run: SuperResolveRun;
  const events: ProgressEvent[] = [];
  const prepared: string[] = [];

  beforeAll(async () => {
    run = await runSuperResolution(
      engine,
      pacs,
      { studyInstanceUid: seeded.studyInstanceUid, seriesInstanceUid: seeded.seriesInstanceUid },
      form,
      { onProgress: (e) => events.push(e), onPrepare: (m) => prepared.push(m) },
    );
  }, 180000);

  it('reports page-side steps and the engine stages with steps up to the planned total', () => {
    expect(prepared).toContain('Reading the series');
    // only the region's 8 slices (11-18) of the 30 are read
    expect(prepared.some((m) => /^Reading images: 8 of 8$/.test(m))).toBe(true);
    expect(prepared.some((m) => /of 30$/.test(m))).toBe(false);
    expect(run.instances).toHaveLength(8);
    const total = 1 + 2 * 2 * 2 + 2; // encode + samples*cycles*steps + decodes
    expect(events.every((e) => e.total === total)).toBe(true);
    expect(events.map((e) => e.stage)).toEqual(expect.arrayContaining(['encode', 'denoise', 'decode']));
    expect(Math.max(...events.map((e) => e.step))).toBe(total);
    expect(events.some((e) => e.preview && e.preview.width > 0)).toBe(true);
    expect(engine.getSnapshot().busy).toBe(false);
  });

  it('returns mean, std and the trilinear baseline on the planned grid', () => {
    expect(run.result.mean.dims).toEqual([32, 32, 32]);
    expect(run.result.std.unit).toBe('HU-std');
    expect(run.result.mean.affine).toEqual(run.plan.plan.output.affine);
    expect(run.result.mean.data.every(Number.isFinite)).toBe(true);
    let maxStd = 0;
    for (const v of run.result.std.data) maxStd = Math.max(maxStd, v);
    expect(maxStd).toBeGreaterThan(0); // two samples with different noise differ
  });

  it('the baseline equals linear interpolation between the source slices read independently from the files', () => {
    const slices = sourceSlicesFromFiles();
    const up = run.result.upsampled;
    const [nx, ny, nz] = up.dims;
    let maxErr = 0;
    for (let k = 0; k < nz; k++) {
      // output slice k (4 per source slice, same box): source index 11 + (k + 0.5) / 4 - 0.5, clamped (border)
      const s = Math.min(Math.max(11 + (k + 0.5) / 4 - 0.5, 11), 18);
      const k0 = Math.floor(s);
      const f = s - k0;
      const a = slices[k0];
      const b = slices[Math.min(k0 + 1, 18)];
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const src = (250 + j) * a.cols + 240 + i;
          const expected = (1 - f) * a.hu[src] + f * b.hu[src];
          maxErr = Math.max(maxErr, Math.abs(up.data[(k * ny + j) * nx + i] - expected));
        }
    }
    expect(maxErr).toBeLessThan(1e-2);
  });

  it('saves the result and its std map as new series of the source study; the PACS holds them', async () => {
    const written = await saveSuperResolution(pacs, await prepareSuperResolutionSave(pacs, run), {
      saveStd: true,
    });
    expect(written.result.report.verified).toBe(true);
    expect(written.result.studyInstanceUid).toBe(seeded.studyInstanceUid);
    const series = await searchSeries(orthancTransport(orthanc), seeded.studyInstanceUid);
    const uids = series.map((s) => s.seriesInstanceUid);
    expect(uids).toEqual(
      expect.arrayContaining([
        seeded.seriesInstanceUid,
        written.result.seriesInstanceUid,
        written.uncertainty!.seriesInstanceUid,
      ]),
    );
    // Orthanc's own REST API: 32 instances in the result series.
    const res = await fetch(`${orthanc.url}/tools/lookup`, {
      method: 'POST',
      headers: { authorization: orthanc.authorization },
      body: written.result.seriesInstanceUid,
    });
    const [{ ID }] = (await res.json()) as { ID: string }[];
    const s = (await (
      await fetch(`${orthanc.url}/series/${ID}`, { headers: { authorization: orthanc.authorization } })
    ).json()) as { Instances: string[]; MainDicomTags: { SeriesDescription: string } };
    expect(s.Instances).toHaveLength(32);
    expect(s.MainDicomTags.SeriesDescription).toMatch(
      /AI super-resolution LDM x4 z - NOT FOR DIAGNOSTIC USE/,
    );
    // Read back: same grid and values within half a rescale step (integer HU storage).
    const back = await readSeries(
      orthancTransport(orthanc),
      seeded.studyInstanceUid,
      written.result.seriesInstanceUid,
    );
    expect(back.volume.dims).toEqual([32, 32, 32]);
    back.volume.affine.forEach((x, n) => expect(x).toBeCloseTo(run.result.mean.affine[n], 3));
    let maxErr = 0;
    for (let n = 0; n < back.volume.data.length; n++)
      maxErr = Math.max(maxErr, Math.abs(back.volume.data[n] - run.result.mean.data[n]));
    expect(maxErr).toBeLessThanOrEqual(0.5 + 1e-3);
  }, 120000);

  it('a Save cut off by the PACS says what the PACS holds; Save again completes the same series', async () => {
    const study = seeded.studyInstanceUid;
    const seriesBefore = (await searchSeries(orthancTransport(orthanc), study)).length;
    let posts = 0;
    // the third STOW request and every later one never reaches the PACS
    const cutOff = createPacs({
      root: orthanc.dicomWebRoot,
      codecWasmUrl: 'http://unused.test/',
      headers: { Authorization: orthanc.authorization },
      stow: { maxBatchInstances: 8, retries: 0 },
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        if ((init?.method ?? 'GET') === 'POST' && ++posts > 2) throw new TypeError('fetch failed');
        return fetch(input, init);
      }) as typeof fetch,
    });
    const prepared = await prepareSuperResolutionSave(cutOff, run);
    const uid = prepared.result.seriesInstanceUid;
    const e = (await saveSuperResolution(cutOff, prepared, { saveStd: true }).catch((x: unknown) => x)) as {
      code: string;
      message: string;
    };
    expect(e.code).toBe('partial-store');
    expect(e.message).toContain(`series ${uid}: the PACS holds 16 of 32 instances (counted by QIDO)`);
    expect(await orthancInstanceCount(uid)).toBe(16); // Orthanc's own index agrees
    const n = describeError(e, 'save');
    expect(n.title).toBe('The upload was not completed');
    expect(n.message).toMatch(/Press Save again to store the missing images into the same series/);
    // Save again (the panel keeps `prepared` for the run): the same series is completed
    const written = await saveSuperResolution(pacs, prepared, { saveStd: true });
    expect(written.result.seriesInstanceUid).toBe(uid);
    expect(written.result.report.alreadyPresent).toBe(16);
    expect(await orthancInstanceCount(uid)).toBe(32);
    expect(await orthancInstanceCount(written.uncertainty!.seriesInstanceUid)).toBe(32);
    expect((await searchSeries(orthancTransport(orthanc), study)).length).toBe(seriesBefore + 2);
  }, 120000);

  it('a PACS that refuses the credentials is reported as a refused upload, and nothing is stored', async () => {
    const before = (await searchSeries(orthancTransport(orthanc), seeded.studyInstanceUid)).length;
    const wrong = createPacs({
      root: orthanc.dicomWebRoot,
      codecWasmUrl: 'http://unused.test/',
      headers: { Authorization: 'Basic ' + Buffer.from('tester:wrong').toString('base64') },
    });
    const e = await saveSuperResolution(wrong, await prepareSuperResolutionSave(pacs, run), {
      saveStd: false,
    }).catch((x: unknown) => x);
    const n = describeError(e, 'save');
    expect(n.title).toBe('The PACS refused the upload');
    expect(n.message).toMatch(/401/);
    expect((await searchSeries(orthancTransport(orthanc), seeded.studyInstanceUid)).length).toBe(before);
  });
});

describe('cancel', () => {
  it('cancelling during denoising rejects as cancelled; the engine then runs the next job', async () => {
    const controller = new AbortController();
    const long: SuperResolveForm = {
      ...form,
      settings: { ...form.settings, cycles: 20, ddimSteps: 5, samples: 1 },
    };
    const events: ProgressEvent[] = [];
    const e = await runSuperResolution(
      engine,
      pacs,
      { studyInstanceUid: seeded.studyInstanceUid, seriesInstanceUid: seeded.seriesInstanceUid },
      long,
      {
        signal: controller.signal,
        onProgress: (ev) => {
          events.push(ev);
          if (ev.stage === 'denoise' && ev.step >= 3) controller.abort();
        },
      },
    ).catch((x: unknown) => x);
    expect(describeError(e, 'run').kind).toBe('cancelled');
    expect(Math.max(...events.map((x) => x.step))).toBeLessThan(events[0].total);
    expect(engine.getSnapshot().busy).toBe(false);
    // the worker is free again
    const g: GenerateForm = {
      ...defaultGenerateForm((await engine.ensureReady()).manifest),
      dims: [32, 32, 32],
      steps: 1,
    };
    const ok = await runGeneration(engine, g);
    expect(ok.result.samples).toHaveLength(1);
  }, 120000);
});

describe('generation job (engine -> save as a synthetic study)', () => {
  it('generates two samples and stores them as two series of ONE new synthetic study', async () => {
    const manifest = (await engine.ensureReady()).manifest;
    const f: GenerateForm = {
      ...defaultGenerateForm(manifest),
      dims: [32, 32, 40],
      fov: [
        [0, 1],
        [0, 1],
        [0.5, 1],
      ],
      rotationDeg: [0, 0, 10],
      steps: 2,
      samples: 2,
      seed: 11,
    };
    const events: ProgressEvent[] = [];
    const run = await runGeneration(engine, f, { onProgress: (e) => events.push(e) });
    expect(run.result.samples.map((s) => s.volume.dims)).toEqual([
      [32, 32, 40],
      [32, 32, 40],
    ]);
    expect(run.result.samples[0].seed).not.toBe(run.result.samples[1].seed);
    expect(events.some((e) => e.preview)).toBe(true);
    const studies = await saveGeneration(pacs, run);
    expect(new Set(studies.map((s) => s.studyInstanceUid)).size).toBe(1);
    const found = await searchSeries(orthancTransport(orthanc), studies[0].studyInstanceUid);
    expect(found.map((s) => s.seriesInstanceUid).sort()).toEqual(
      studies.map((s) => s.seriesInstanceUid).sort(),
    );
    const back = await readSeries(
      orthancTransport(orthanc),
      studies[0].studyInstanceUid,
      studies[1].seriesInstanceUid,
      { valueCheck: 'none' }, // a 2-step sample need not look like CT: this checks the stored values
    );
    const name = back.instances[0].json['00100010']?.Value?.[0] as { Alphabetic?: string } | undefined;
    expect(name?.Alphabetic).toBe('SYNTHETIC^GEOMETRY-LDM');
    const comments = String(back.instances[0].json['00204000']?.Value?.[0] ?? '');
    expect(comments).toMatch(/NOT FOR DIAGNOSTIC USE/);
    expect(comments).toContain(`"seed":${run.result.samples[1].seed}`);
    let maxErr = 0;
    for (let n = 0; n < back.volume.data.length; n++)
      maxErr = Math.max(maxErr, Math.abs(back.volume.data[n] - run.result.samples[1].volume.data[n]));
    expect(maxErr).toBeLessThanOrEqual(0.5 + 1e-3);

    // A save cut off after the first series: the same identity again completes the SAME study.
    const identity = newSaveIdentity();
    let posts = 0;
    const cutOff = createPacs({
      root: orthanc.dicomWebRoot,
      codecWasmUrl: 'http://unused.test/',
      headers: { Authorization: orthanc.authorization },
      // one request per series, so that the second request is the second series
      stow: { retries: 0, maxBatchInstances: 64 },
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        if ((init?.method ?? 'GET') === 'POST' && ++posts > 1) throw new TypeError('fetch failed');
        return fetch(input, init);
      }) as typeof fetch,
    });
    const e = (await saveGeneration(cutOff, run, undefined, identity).catch((x: unknown) => x)) as {
      code: string;
    };
    expect(e.code).toBe('network');
    const again = await saveGeneration(pacs, run, undefined, identity);
    expect(again[0].report.alreadyPresent).toBe(40); // the first series was not sent twice
    expect(again[1].report.alreadyPresent).toBe(0);
    const inStudy = await searchSeries(orthancTransport(orthanc), again[0].studyInstanceUid);
    expect(inStudy.map((s) => s.seriesInstanceUid).sort()).toEqual(
      again.map((s) => s.seriesInstanceUid).sort(),
    );
  }, 120000);
});
