/**
 * `geometry-ldm super-resolve`: one series of a study (or a region of it) to a
 * finer grid, written back or to files.
 *
 * Region: real CT (512 x 512 in-plane) is larger than a latent diffusion model's
 * grid range, and a long series refined on every axis larger than the AI and
 * classical modes hold (planning/modeGrid.ts), so `--region fit` takes the
 * largest centred region that fits (the viewer panel's "Fit region", the same function), or
 * `--region x=a:b ...` a chosen one. As in the panel, only the region is sent
 * to the model and the group space stays the whole series' extent.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Vec3 } from '../geometry/conventions';
import { readNotes, readSeriesLayout, readSeriesPixels, type ReadSeriesResult } from '../dicom/readSeries';
import { productOutputReason } from '../dicom/productOutput';
import { str, TAG } from '../dicom/dicomJson';
import { searchSeries } from '../dicom/qido';
import { buildDerivedSeries, studySeriesNumbers } from '../dicom/writeDerivedSeries';
import { stowInstances, type StowInstance } from '../dicom/stow';
import { DicomError } from '../dicom/errors';
import { superResolve } from '../inference/superResolve';
import { planSuperResolutionTarget } from '../inference/superResolutionTarget';
import {
  ManifestError,
  superResolutionDefaults,
  type ModelManifest,
  type SuperResolutionMode,
} from '../model/manifest';
import { methodText, MODE_LABEL, MODE_TAG } from '../inference/methodText';
import { describeSliceModel, sliceModelFor, type SliceModelChoice } from '../volume/seriesAcquisition';
import { spacingOf } from '../geometry/dicomGeometry';
import { scanExtentGroupSpace } from '../geometry/groupSpace';
import { boxGrid, crop, type CropBox } from '../volume/pad';
import { engineTarget, fitRegion, type TargetChoice } from '../planning/superResolvePlan';
import { modeGridProblem } from '../planning/modeGrid';
import type { SeriesGrid } from '../planning/seriesGrid';
import type { RegionArg } from './args';
import { volumeToNifti } from '../formats/nifti';
import { loadModelDir, readManifest, type Device } from './nodeModel';
import type { Reporter } from './output';
import { checkOutDir, checkSchedule } from './validate';
import { checkDicomwebRoot, pacsTransport, type PacsConfig } from './pacs';
import { UsageError } from './exitCodes';
import { cliReadCodecs } from './decodeCodecs';
import { cliVolumeMemory } from './volumeMemory';
import { writeOutAtomically } from './atomicOut';
import { pacsKey } from './jobFile';
import {
  checkDiskSpace,
  checkMemory,
  memoryBudget,
  superResolveMemory,
  superResolveOutBytes,
} from './resources';
import { SuperResolveJob, type SeriesRole } from './superResolveJob';

export interface SuperResolveCommand {
  readonly pacs: PacsConfig;
  readonly study: string;
  readonly series?: string;
  readonly spacingMm?: Vec3;
  /** One factor for every axis, or one per axis (x, y, z; e.g. 1,1,2: twice the slices only). */
  readonly scale?: number | Vec3;
  readonly region?: RegionArg;
  readonly samples?: number;
  /** Default: the model's (ai when it has a refiner). */
  readonly mode?: SuperResolutionMode;
  /** Default 'auto' (from SliceThickness / ImageType). */
  readonly sliceProfile?: SliceModelChoice;
  readonly sliceThicknessMm?: number;
  readonly cycles?: number;
  readonly tStart?: number;
  readonly steps?: number;
  readonly seed: string;
  readonly stdMap: boolean;
  /** Interpolate across holes in the source stack instead of refusing (the derived series says so). */
  readonly bridgeGaps?: boolean;
  readonly modelDir: string;
  readonly out?: string;
  readonly stow: boolean;
  /** Run even when the memory estimate exceeds what the machine or container has. */
  readonly skipMemoryCheck?: boolean;
  /** Makes --stow resumable: the built series are staged beside this file until the PACS holds them. */
  readonly jobPath?: string;
  /** Instances per STOW-RS request (default: stow.ts). */
  readonly stowBatch?: number;
  readonly threads?: number;
  readonly device?: Device;
}

export async function runSuperResolve(
  c: SuperResolveCommand,
  reporter: Reporter,
  signal?: AbortSignal,
): Promise<void> {
  if (!c.out && !c.stow) throw new UsageError('give --out DIR or --stow');
  if ((c.spacingMm === undefined) === (c.scale === undefined))
    throw new UsageError('give exactly one of --spacing X,Y,Z or --scale S (or X,Y,Z)');
  if (c.jobPath && !c.stow) throw new UsageError('--job makes a --stow resumable: give --stow');
  checkOutDir(c.out);
  const manifest = await readManifest(c.modelDir);
  checkSchedule(manifest, { steps: c.steps, tStart: c.tStart });
  const mode = c.mode ?? superResolutionDefaults(manifest).mode;
  if (mode === 'ai' && !manifest.files.refiner)
    throw new UsageError(
      `model ${manifest.name} ${manifest.version} has no refiner: use --mode classical or diffusion`,
    );
  const transport = pacsTransport(c.pacs);
  const pacs = pacsKey(c.pacs.url);
  const job = c.jobPath ? SuperResolveJob.open(c.jobPath, jobRequest(c, manifest, pacs)) : undefined;
  await checkDicomwebRoot(transport, c.pacs.url);
  if (job && job.series.length > 0) {
    if (await resumeJob(job, transport, pacs, reporter, c.stowBatch)) return;
  }
  const all = await searchSeries(transport, c.study);
  if (all.length === 0) throw new UsageError(`study ${c.study} was not found on the PACS (or has no series)`);
  let seriesUid = c.series;
  if (!seriesUid) {
    // Never AI output of this product (earlier results, std maps, synthetic CT).
    const ct = all
      .filter((s) => s.modality === 'CT' && !productOutputReason({ seriesDescription: s.seriesDescription }))
      .sort((a, b) => (b.numberOfInstances ?? 0) - (a.numberOfInstances ?? 0));
    if (ct.length === 0)
      throw new UsageError(`study ${c.study} has no CT series (other than super-resolution results)`);
    seriesUid = ct[0].seriesInstanceUid as string;
  } else if (!all.some((s) => s.seriesInstanceUid === seriesUid)) {
    throw new UsageError(`series ${seriesUid} is not in study ${c.study}`);
  } else {
    const why = productOutputReason({
      seriesDescription: all.find((s) => s.seriesInstanceUid === seriesUid)?.seriesDescription,
    });
    if (why) throw new UsageError(`series ${seriesUid}: ${why}; super-resolve the original series instead`);
  }
  const choice: TargetChoice =
    c.spacingMm !== undefined
      ? { kind: 'spacing', spacingMm: c.spacingMm }
      : {
          kind: 'scale',
          factors: typeof c.scale === 'number' ? ([c.scale, c.scale, c.scale] as unknown as Vec3) : c.scale!,
        };
  reporter.info(`reading series ${seriesUid}`);
  const readOptions = {
    irregular: 'resample',
    bridgeGaps: Boolean(c.bridgeGaps),
    codecs: cliReadCodecs(),
    volumeMemory: cliVolumeMemory(),
  } as const;
  const layout = await readSeriesLayout(transport, c.study, seriesUid, readOptions);
  const written = productOutputReason({ manufacturer: str(layout.ordered[0]?.json ?? {}, TAG.Manufacturer) });
  if (written)
    throw new UsageError(`series ${seriesUid}: ${written}; super-resolve the original series instead`);
  // A regular series is sized from its metadata and only the region's slices are read later; one
  // that must be resampled is read whole now (its grid exists only after resampling).
  const regular = layout.series.geometry;
  let read: ReadSeriesResult | null = regular ? null : await readSeriesPixels(transport, layout, readOptions);
  const gridAffine = regular ? regular.affine : read!.volume.affine;
  const grid: SeriesGrid = {
    dims: regular ? regular.dims : read!.volume.dims,
    affine: gridAffine,
    spacingMm: spacingOf(gridAffine),
  };
  const region = regionOf(c.region, grid, choice, manifest, mode);
  // Validate the target (coarser than the source, supported grid) before any model work or write.
  const plan = planSuperResolutionTarget(
    boxGrid(grid, region),
    engineTarget(choice),
    manifest.grid.multipleOf,
    manifest.grid.min,
  );
  const slices = sliceModelFor(
    c.sliceProfile ?? 'auto',
    grid.spacingMm[2],
    layout.ordered[0] ?? {},
    c.sliceThicknessMm,
  );
  reporter.info(
    `mode: ${MODE_LABEL[mode]}; slice model: ${slices === 'none' ? 'none (no projection)' : `${describeSliceModel(slices)} (${slices.reason})`}`,
  );
  // What each mode takes (planning/modeGrid.ts): latent diffusion the model's grid range, the AI and
  // classical modes what their result volumes need in memory.
  const problem = modeGridProblem(manifest, mode, plan);
  if (problem) {
    // a region helps only a job that is too large
    if (!problem.tooLarge || c.region?.kind === 'fit')
      throw new ManifestError('unsupported-grid', problem.reason);
    const fit = fitRegion(grid, choice, manifest, mode);
    throw new ManifestError(
      'unsupported-grid',
      `${problem.reason}; the result would be ${plan.output.dims.join('x')} voxels: add --region fit (the largest centred region that fits: ${formatRegion(fit)}) or give a smaller --region`,
    );
  }
  const whole = region.dims.every((n, a) => n === grid.dims[a]);
  const stdMap = c.stdMap && mode !== 'classical';
  const memory = superResolveMemory({
    mode,
    // a regular series is read as the region's slab; one to resample, whole
    sourceDims: regular ? [grid.dims[0], grid.dims[1], region.dims[2]] : grid.dims,
    paddedDims: plan.padded.dims,
    outputDims: plan.output.dims,
    stdMap,
  });
  reporter.event('plan', {
    source: grid.dims,
    region: formatRegion(region),
    ...(c.region?.kind === 'fit' ? { fitted: true } : {}),
    target: plan.output.dims,
    modelGrid: plan.padded.dims,
    device: c.device ?? 'cpu',
    memoryEstimateBytes: Math.round(memory.totalBytes),
  });
  if (c.region?.kind === 'fit' && !whole)
    reporter.info(
      `region fitted to ${mode === 'diffusion' ? 'the model' : `what the ${mode} mode holds`}: ${formatRegion(region)} of ${grid.dims.join('x')} voxels (result ${plan.output.dims.join('x')})`,
    );
  // before any pixel is read or the model is loaded
  if (!c.skipMemoryCheck)
    checkMemory(
      memory,
      memoryBudget(),
      `super-resolving ${formatRegion(region)} to ${plan.output.dims.join('x')} voxels`,
    );
  if (c.out) checkDiskSpace(c.out, superResolveOutBytes(plan.output.dims, stdMap));
  if (!read) {
    read = await readSeriesPixels(transport, layout, {
      ...readOptions,
      slab: { start: region.start[2], count: region.dims[2] },
    });
    reporter.info(
      `read slices ${region.start[2]}..${region.start[2] + region.dims[2] - 1} of ${grid.dims[2]}`,
    );
  }
  const notes = readNotes(read);
  for (const n of notes) reporter.info(`source: ${n}`);
  // the region within what was read (a slab starts at the region's first slice)
  const local: CropBox = regular
    ? { start: [region.start[0], region.start[1], 0], dims: region.dims }
    : region;
  const source = local.dims.every((n, a) => n === read!.volume.dims[a])
    ? read.volume
    : crop(read.volume, local);

  const model = await loadModelDir(c.modelDir, c.threads ?? 0, c.device ?? 'cpu');
  let r;
  try {
    r = await superResolve(
      model,
      source,
      { kind: 'grid', grid: plan.output },
      {
        // The region's place in the model's [0,1]^3 is that of the whole series.
        groupSpace: scanExtentGroupSpace(grid.dims, grid.affine),
        mode,
        slices,
        samples: c.samples,
        cycles: c.cycles,
        tStart: c.tStart,
        ddimSteps: c.steps,
        seed: c.seed,
        signal,
        onProgress: (e) => reporter.progress('super-resolve', e),
      },
    );
  } finally {
    await model.release();
  }
  const method = [methodText(r), ...notes.map((n) => `source ${n}`)].join('; ');
  reporter.info(`done: ${method}`);
  if (c.stdMap && mode === 'classical')
    reporter.info('--std-map: the classical mode has no uncertainty; no std series written');
  const built = buildDerivedSeries({
    source: read.instances,
    result: r.mean,
    ...(stdMap ? { uncertainty: r.std } : {}),
    model: { name: manifest.name, version: manifest.version },
    method,
    label: `${MODE_TAG[mode]} ${plan.output.dims.join('x')}`,
    // series numbers the study does not use yet (source + 1000, or the next free pair)
    existingSeriesNumbers: await studySeriesNumbers(transport, c.study),
  });
  const series = [built.result, ...(built.uncertainty ? [built.uncertainty] : [])];
  if (c.out) {
    // all files into a temporary folder first, then renamed into place: never a partial result
    writeOutAtomically(c.out, (tmp) => {
      series.forEach((s, n) => {
        const dir = join(tmp, n === 0 ? 'super-resolved' : 'uncertainty');
        mkdirSync(dir, { recursive: true });
        s.instances.forEach((inst, k) =>
          writeFileSync(join(dir, `${String(k + 1).padStart(4, '0')}.dcm`), inst.bytes),
        );
      });
      writeFileSync(
        join(tmp, 'super-resolved.nii'),
        volumeToNifti(r.mean, 'geometry-ldm super-resolved mean'),
      );
      if (stdMap) writeFileSync(join(tmp, 'uncertainty.nii'), volumeToNifti(r.std, 'geometry-ldm std map'));
    });
  }
  if (c.stow) {
    const roles = series.map((s, n) => ({
      role: (n === 0 ? 'result' : 'uncertainty') as SeriesRole,
      series: s,
    }));
    job?.stage(roles);
    for (const { role, series: s } of roles) {
      await storeSeries(transport, s.instances, reporter, job, c.stowBatch);
      job?.markStored(role, pacs);
    }
  }
  reporter.event('done', {
    mode,
    method,
    fidelity: r.fidelity,
    seriesInstanceUid: built.result.seriesInstanceUid,
    ...(built.uncertainty ? { uncertaintySeriesInstanceUid: built.uncertainty.seriesInstanceUid } : {}),
    grid: plan.output.dims,
  });
}

/** "x=a:b,y=c:d,z=e:f": voxel indices, 0-based, end exclusive (the --region syntax). */
export function formatRegion(box: CropBox): string {
  return [0, 1, 2].map((a) => `${'xyz'[a]}=${box.start[a]}:${box.start[a] + box.dims[a]}`).join(',');
}

function regionOf(
  arg: RegionArg | undefined,
  grid: SeriesGrid,
  choice: TargetChoice,
  manifest: ModelManifest,
  mode: SuperResolutionMode,
): CropBox {
  if (arg?.kind === 'fit') return fitRegion(grid, choice, manifest, mode);
  const ranges = arg?.ranges ?? [null, null, null];
  const start = [0, 0, 0];
  const dims = [...grid.dims];
  for (let a = 0; a < 3; a++) {
    const r = ranges[a];
    if (!r) continue;
    if (r[1] > grid.dims[a])
      throw new UsageError(
        `--region ${'xyz'[a]}=${r[0]}:${r[1]} lies outside the series (${'xyz'[a]}=0:${grid.dims[a]})`,
      );
    start[a] = r[0];
    dims[a] = r[1] - r[0];
  }
  return { start: start as unknown as Vec3, dims: dims as unknown as CropBox['dims'] };
}

/** What a --job file pins: a rerun must be the same command (output folder and PACS included). */
function jobRequest(c: SuperResolveCommand, manifest: ModelManifest, pacs: string): Record<string, unknown> {
  return {
    pacs,
    study: c.study,
    series: c.series ?? null,
    spacingMm: c.spacingMm ?? null,
    scale: c.scale ?? null,
    region: c.region ?? null,
    samples: c.samples ?? null,
    mode: c.mode ?? null,
    sliceProfile: c.sliceProfile ?? null,
    sliceThicknessMm: c.sliceThicknessMm ?? null,
    cycles: c.cycles ?? null,
    tStart: c.tStart ?? null,
    steps: c.steps ?? null,
    seed: c.seed,
    stdMap: c.stdMap,
    bridgeGaps: Boolean(c.bridgeGaps),
    out: c.out ?? null,
    model: { name: manifest.name, version: manifest.version },
  };
}

/**
 * A rerun of a job that already built its series: report them when the PACS holds them, or
 * store the staged files (only what the PACS lacks). True when nothing is left to do.
 */
async function resumeJob(
  job: SuperResolveJob,
  transport: ReturnType<typeof pacsTransport>,
  pacs: string,
  reporter: Reporter,
  stowBatch: number | undefined,
): Promise<boolean> {
  const uids = job.series.map((s) => s.seriesInstanceUid).join(', ');
  const staged = job.storedIn(pacs) ? [] : job.stagedInstances();
  if (!staged)
    throw new UsageError(
      `job ${job.path}: series ${uids} is not complete in the PACS and its staged files (${job.path}.d) are gone; ` +
        'remove the partial series (README: "Removing a partial series") and the job file, then run again',
    );
  reporter.info(
    staged.length === 0
      ? `job ${job.path}: already stored (series ${uids}); nothing to do`
      : `job ${job.path}: storing the staged series ${uids} (nothing is computed again)`,
  );
  for (const s of job.series) {
    const files = staged.find((x) => x.role === s.role);
    if (!files || s.storedTo.includes(pacs)) {
      reporter.event('stored', {
        studyInstanceUid: s.studyInstanceUid,
        seriesInstanceUid: s.seriesInstanceUid,
        instances: s.instances,
        alreadyStored: true,
      });
      continue;
    }
    await storeSeries(transport, files.instances, reporter, job, stowBatch);
    job.markStored(s.role, pacs);
  }
  const result = job.series.find((s) => s.role === 'result');
  const std = job.series.find((s) => s.role === 'uncertainty');
  reporter.event('done', {
    resumed: true,
    seriesInstanceUid: result?.seriesInstanceUid,
    ...(std ? { uncertaintySeriesInstanceUid: std.seriesInstanceUid } : {}),
  });
  return true;
}

/**
 * STOW of one series with progress lines; what the PACS already holds is not sent again. A
 * failure says what the PACS holds and how to go on (rerun with the job, or remove the series).
 */
async function storeSeries(
  transport: ReturnType<typeof pacsTransport>,
  instances: readonly StowInstance[],
  reporter: Reporter,
  job: SuperResolveJob | undefined,
  stowBatch: number | undefined,
): Promise<void> {
  const first = instances[0];
  const series = first.seriesInstanceUid;
  try {
    await stowInstances(transport, instances, {
      studyInstanceUid: first.studyInstanceUid,
      skipPresent: true,
      ...(stowBatch ? { maxBatchInstances: stowBatch } : {}),
      onProgress: (sent, total) =>
        reporter.event('store-progress', { seriesInstanceUid: series, sent, total }),
      onRetry: (r) =>
        reporter.info(
          `series ${series}: retry ${r.attempt} of ${r.retries} in ${(r.delayMs / 1000).toFixed(1)} s (${r.reason})`,
        ),
    });
  } catch (e) {
    if (!(e instanceof DicomError)) throw e;
    const next = job
      ? `rerun the same command (--job ${job.path}) to store the missing instances into the same series`
      : 'this run had no --job, so a rerun would write a new series: remove this one first (README: "Removing a partial series"), or add --job FILE to make the store resumable';
    throw new DicomError(e.code, `${e.message}; ${next}`, { ...e.details });
  }
  reporter.event('stored', {
    studyInstanceUid: first.studyInstanceUid,
    seriesInstanceUid: series,
    instances: instances.length,
  });
}
