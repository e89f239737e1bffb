/**
 * The two panel jobs end to end, without UI: read -> plan -> engine -> result,
 * and result -> PACS. The components call these and render the phases; tests
 * call them against a real engine host and a real PACS.
 */
import { readNotes, type ReadSeriesResult } from '../dicom/readSeries';
import type { InstanceHeader } from '../dicom/instanceMetadata';
import type { DerivedSeriesResult, PreparedDerivedSeries } from '../dicom/writeDerivedSeries';
import type { SyntheticStudyResult } from '../dicom/writeSyntheticStudy';
import { spacingOf } from '../geometry/dicomGeometry';
import { InferenceError, throwIfCancelled } from '../inference/errors';
import type { ExpectedSeconds, ProgressEvent } from '../inference/progress';
import type { TilingPolicy } from '../inference/tiling';
import { methodText, MODE_TAG } from '../inference/methodText';
import { crop } from '../volume/pad';
import { sliceModelFor } from '../volume/seriesAcquisition';
import type { Volume } from '../volume/volume';
import type { ClientGenerateResult, ClientSuperResolveResult } from '../worker/engineClient';
import type { ModelCard } from '../worker/protocol';
import type { EngineSession } from './engineSession';
import { generationPreviewEvery } from '../planning/estimate';
import { planGenerate, type GenerateForm, type GeneratePlanOk } from './generateModel';
import { modelInfo, type Pacs, type SaveIdentity } from './pacs';
import type { SeriesGrid } from '../planning/seriesGrid';
import {
  planSuperResolution,
  targetLabel,
  type PlanOk,
  type SuperResolveForm,
} from '../planning/superResolvePlan';

export interface JobHooks {
  readonly signal?: AbortSignal;
  /** Page-side steps (reading the series, ...). */
  readonly onPrepare?: (message: string) => void;
  readonly onProgress?: (event: ProgressEvent) => void;
  /** The estimate's seconds per stage: the live ETA starts from it (inference/progress.ts). */
  readonly expectedSeconds?: ExpectedSeconds;
}

export interface SeriesRef {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
}

export interface SuperResolveRun {
  readonly series: SeriesRef;
  /** The series' instance headers (the derived series references them). */
  readonly instances: readonly InstanceHeader[];
  readonly seriesGrid: SeriesGrid;
  readonly form: SuperResolveForm;
  readonly plan: PlanOk;
  readonly result: ClientSuperResolveResult;
  readonly model: ModelCard;
  /** What the read did to the source (localizers left out, gaps bridged): shown and saved. */
  readonly notes: readonly string[];
}

function gridOf(volume: Volume, read: ReadSeriesResult): SeriesGrid {
  return {
    dims: volume.dims,
    affine: volume.affine,
    spacingMm: spacingOf(volume.affine),
    ...(read.geometry.resampled ? { irregular: 'resampled onto a regular grid' } : {}),
  };
}

/** The region clamped to a grid (a resampled irregular stack may differ slightly from its nominal grid). */
function clampRegion(form: SuperResolveForm, grid: SeriesGrid): SuperResolveForm {
  const start = [0, 1, 2].map((a) => Math.min(Math.max(0, form.region.start[a]), grid.dims[a] - 1));
  const dims = [0, 1, 2].map((a) => Math.max(1, Math.min(form.region.dims[a], grid.dims[a] - start[a])));
  return {
    ...form,
    region: {
      start: start as unknown as SuperResolveForm['region']['start'],
      dims: dims as unknown as SuperResolveForm['region']['dims'],
    },
  };
}

export async function runSuperResolution(
  engine: EngineSession,
  pacs: Pacs,
  series: SeriesRef,
  form: SuperResolveForm,
  hooks: JobHooks & { readonly tiling?: TilingPolicy } = {},
): Promise<SuperResolveRun> {
  hooks.onPrepare?.('Loading the model');
  const ready = await engine.ensureReady();
  throwIfCancelled(hooks.signal);
  hooks.onPrepare?.('Reading the series');
  const readOptions = { bridgeGaps: form.settings.bridgeGaps };
  const layout = await pacs.readLayout(series.studyInstanceUid, series.seriesInstanceUid, readOptions);
  throwIfCancelled(hooks.signal);
  const onProgress = (done: number, total: number) =>
    hooks.onPrepare?.(`Reading images: ${done} of ${total}`);
  // A regular series is sized from its headers and only the region's slices are read; one that
  // must be resampled is read whole (its grid exists only after resampling).
  const regular = layout.series.geometry;
  let read: ReadSeriesResult;
  let seriesGrid: SeriesGrid;
  let runForm: SuperResolveForm;
  let source: Volume;
  if (regular) {
    seriesGrid = { dims: regular.dims, affine: regular.affine, spacingMm: spacingOf(regular.affine) };
    runForm = clampRegion(form, seriesGrid);
    const { start, dims } = runForm.region;
    read = await pacs.readPixels(layout, onProgress, {
      ...readOptions,
      slab: { start: start[2], count: dims[2] },
    });
    source = crop(read.volume, { start: [start[0], start[1], 0], dims });
  } else {
    read = await pacs.readPixels(layout, onProgress);
    seriesGrid = gridOf(read.volume, read);
    runForm = clampRegion(form, seriesGrid);
    source = crop(read.volume, runForm.region);
  }
  throwIfCancelled(hooks.signal);
  const plan = planSuperResolution(seriesGrid, runForm, ready.manifest);
  if (!plan.ok) throw new InferenceError('invalid-input', plan.errors.join(' '));
  // Only the region travels to the worker; the group space keeps the whole series' extent.
  hooks.onPrepare?.('Waiting for the engine');
  const { mode, slices: sliceChoice, ...sampling } = runForm.settings;
  const slices = sliceModelFor(sliceChoice, seriesGrid.spacingMm[2], read.instances[0] ?? {});
  const result = await engine.runExclusive(({ client }) =>
    client.superResolve(
      source,
      plan.engineTarget,
      {
        ...sampling,
        mode,
        slices,
        groupSpace: plan.groupSpace,
        preview: true,
        ...(hooks.expectedSeconds ? { expectedSeconds: hooks.expectedSeconds } : {}),
        ...(hooks.tiling ? { tiling: hooks.tiling } : {}),
      },
      {
        ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
        ...(hooks.signal ? { signal: hooks.signal } : {}),
      },
    ),
  );
  return {
    series,
    instances: read.instances,
    seriesGrid,
    form: runForm,
    plan,
    result,
    model: ready.ready.model,
    notes: readNotes(read),
  };
}

/**
 * Builds the derived series of a run once (UIDs, numbers, pixel data), with the std map unless
 * the mode has none; nothing is sent. The panel keeps it for the run, so that Save after a
 * failed Save completes the same series instead of writing a second one.
 */
export async function prepareSuperResolutionSave(
  pacs: Pacs,
  run: SuperResolveRun,
): Promise<PreparedDerivedSeries> {
  const mode = run.result.settings.mode;
  return pacs.prepareDerived({
    source: run.instances,
    result: run.result.mean,
    ...(mode !== 'classical' ? { uncertainty: run.result.std } : {}),
    model: modelInfo(run.model, 'super-resolution'),
    method: [methodText(run.result), ...run.notes.map((n) => `source ${n}`)].join('; '),
    label: `${MODE_TAG[mode]} ${targetLabel(run.form.target)}`,
  });
}

/** Stores a prepared save (what the PACS already holds is not sent again). */
export async function saveSuperResolution(
  pacs: Pacs,
  prepared: PreparedDerivedSeries,
  options: { readonly saveStd: boolean },
): Promise<DerivedSeriesResult> {
  return pacs.storeDerived(prepared, { withUncertainty: options.saveStd });
}

export interface GenerateRun {
  readonly form: GenerateForm;
  readonly plan: GeneratePlanOk;
  readonly result: ClientGenerateResult;
  readonly model: ModelCard;
}

export async function runGeneration(
  engine: EngineSession,
  form: GenerateForm,
  hooks: JobHooks & { readonly tiling?: TilingPolicy } = {},
): Promise<GenerateRun> {
  hooks.onPrepare?.('Loading the model');
  const ready = await engine.ensureReady();
  throwIfCancelled(hooks.signal);
  const plan = planGenerate(form, ready.manifest);
  if (!plan.ok) throw new InferenceError('invalid-input', plan.errors.join(' '));
  hooks.onPrepare?.('Waiting for the engine');
  const result = await engine.runExclusive(({ client }) =>
    client.generate(plan.spec, {
      preview: true,
      // looks at the estimate while sampling: each is one more decoder call (counted in the estimate)
      previewEvery: generationPreviewEvery(form.steps),
      ...(hooks.tiling ? { tiling: hooks.tiling } : {}),
      ...(hooks.expectedSeconds ? { expectedSeconds: hooks.expectedSeconds } : {}),
      ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
      ...(hooks.signal ? { signal: hooks.signal } : {}),
    }),
  );
  return { form, plan, result, model: ready.ready.model };
}

export async function saveGeneration(
  pacs: Pacs,
  run: GenerateRun,
  onSeries?: (done: number, total: number) => void,
  identity?: SaveIdentity,
): Promise<SyntheticStudyResult[]> {
  const g = run.result.geometry;
  return pacs.saveSynthetic(
    run.result.samples,
    {
      grid: [...g.dims],
      spacingMm: [...g.spacingMm],
      fov: run.plan.fov,
      rotationDeg: [...run.form.rotationDeg],
      sampler: run.plan.spec.sampler,
      baseSeed: run.form.seed,
      geometryMode: run.form.mode,
      indexToGroup: [...g.indexToGroup],
      groupSpace: run.result.groupSpace,
      model: modelInfo(run.model, 'generation'),
    },
    onSeries,
    identity,
  );
}
