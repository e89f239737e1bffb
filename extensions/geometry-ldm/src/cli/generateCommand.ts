/**
 * `geometry-ldm generate`: a batch of synthetic studies. Every item's seed and
 * UIDs derive from (batch id, item index), so a rerun (after a crash, Ctrl-C,
 * or on another shard) produces the same items, and `--shard I/N` splits a
 * batch deterministically: item i belongs to shard i mod N. The job file
 * records per item where it was written and stored, so a rerun completes
 * only the destinations that are missing (e.g. `--out` first, `--stow` later:
 * the files already written are stored, nothing is generated again).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Dims3, Vec3 } from '../geometry/conventions';
import type { FovRanges, GenerationGeometrySpec } from '../geometry/generationGeometry';
import { deriveSeed } from '../diffusion/rng';
import { checkGrid, type ModelManifest } from '../model/manifest';
import { generate, generationGroupSpace } from '../inference/generate';
import { generationSampler, type SamplerSpec } from '../inference/sampler';
import type { LoadedModel } from '../inference/modelSessions';
import type { BuiltSeries } from '../dicom/ctImage';
import { prepareImport } from '../dicom/importFiles';
import { buildSyntheticStudy, type GenerationParameters } from '../dicom/writeSyntheticStudy';
import { stowInstances, type StowInstance } from '../dicom/stow';
import { searchStudies } from '../dicom/qido';
import { deterministicUid } from '../dicom/uids';
import { DicomError } from '../dicom/errors';
import { volumeToNifti } from '../formats/nifti';
import type { Volume } from '../volume/volume';
import { JobFile, pacsKey, type JobItem } from './jobFile';
import { checkOutDir, checkSchedule } from './validate';
import { loadModelDir, readManifest, type Device } from './nodeModel';
import type { Reporter } from './output';
import { pacsTransport, type PacsConfig } from './pacs';
import { UsageError } from './exitCodes';
import { checkDiskSpace, checkMemory, generateMemory, memoryBudget } from './resources';
import { writeOutAtomically } from './atomicOut';

export interface GenerateCommand {
  readonly grid: Dims3;
  readonly spacingMm?: Vec3;
  readonly fov: FovRanges;
  /** Axes with an explicit --fov (the others keep [0, 1]). */
  readonly fovGiven?: readonly boolean[];
  readonly rotationDeg: Vec3;
  readonly count: number;
  readonly seed: string;
  readonly sampler: SamplerSpec;
  readonly modelDir: string;
  readonly out?: string;
  readonly pacs?: PacsConfig;
  readonly jobPath?: string;
  readonly batchId?: string;
  readonly shard: { index: number; count: number };
  readonly threads?: number;
  readonly device?: Device;
  /** Run even when the memory estimate exceeds what the machine or container has. */
  readonly skipMemoryCheck?: boolean;
}

const AXIS = ['x', 'y', 'z'];

function fmt(n: number): string {
  return String(Number(n.toFixed(3)));
}

/**
 * The geometry of a request. Without --spacing the FOV ranges set the spacing
 * (`kind: 'fov'`). With --spacing the grid and spacing fix the extent, so a
 * --fov range given on an axis must span the same length (voxel centres,
 * within half a voxel; `extentMm` is the model's reference extent) and then
 * places the grid there; any other combination is refused in one line with
 * what would fit. Axes without --fov are centred.
 */
export function geometrySpec(
  c: Pick<GenerateCommand, 'grid' | 'spacingMm' | 'fov' | 'fovGiven' | 'rotationDeg'>,
  extentMm: Vec3,
): GenerationGeometrySpec {
  if (!c.spacingMm) return { kind: 'fov', dims: c.grid, fov: c.fov, rotationDeg: c.rotationDeg };
  const spacing = c.spacingMm;
  for (let a = 0; a < 3; a++) {
    if (!c.fovGiven?.[a]) continue;
    const [lo, hi] = c.fov[a];
    const asked = (hi - lo) * extentMm[a];
    const got = (c.grid[a] - 1) * spacing[a];
    if (Math.abs(asked - got) > spacing[a] / 2) {
      const fits = [...spacing.map(fmt)];
      fits[a] = fmt(asked / (c.grid[a] - 1));
      throw new UsageError(
        `--fov ${AXIS[a]}=${lo}:${hi} spans ${fmt(asked)} mm (of the model's ${fmt(extentMm[a])} mm) but ${c.grid[a]} voxels at ${fmt(spacing[a])} mm span ${fmt(got)} mm: use --spacing ${fits.join(',')}, or leave out --spacing (the FOV then sets it)`,
      );
    }
  }
  const centre = c.fov.map(([lo, hi]) => (lo + hi) / 2) as unknown as Vec3;
  return {
    kind: 'spacing',
    dims: c.grid,
    spacingMm: spacing,
    fovCentre: centre,
    rotationDeg: c.rotationDeg,
  };
}

export async function runGenerate(
  c: GenerateCommand,
  reporter: Reporter,
  signal?: AbortSignal,
): Promise<void> {
  if (!c.out && !c.pacs) throw new UsageError('give --out DIR or --stow (with --pacs URL)');
  checkOutDir(c.out);
  const manifest = await readManifest(c.modelDir);
  checkSchedule(manifest, { steps: c.sampler.steps, stepsWhat: `--steps (${c.sampler.kind})` });
  // DDIM's eta resolved from the model now, so that the batch id and the DICOM record carry it
  c = { ...c, sampler: generationSampler(manifest, c.sampler) };
  const spec = geometrySpec(c, generationGroupSpace(manifest).extentMm);
  checkGrid(manifest, c.grid); // before anything is written
  if (!c.skipMemoryCheck)
    checkMemory(generateMemory(c.grid), memoryBudget(), `generating ${c.grid.join('x')} voxels`);
  if (c.out) {
    // this shard's items: Part 10 (16-bit + headers) and NIfTI (float32) per volume
    const perItem = c.grid[0] * c.grid[1] * c.grid[2] * (2 + 4) + c.grid[2] * 4096 + 352;
    const items = Math.ceil((c.count - c.shard.index) / c.shard.count);
    checkDiskSpace(c.out, perItem * items);
  }
  const request = {
    grid: c.grid,
    spacingMm: c.spacingMm ?? null,
    fov: c.fov,
    rotationDeg: c.rotationDeg,
    count: c.count,
    seed: c.seed,
    sampler: c.sampler,
    model: { name: manifest.name, version: manifest.version },
  };
  const batchId =
    c.batchId ?? createHash('sha256').update(JSON.stringify(request)).digest('hex').slice(0, 16);
  const transport = c.pacs ? pacsTransport(c.pacs) : undefined;
  if (transport) await searchStudies(transport, { limit: '1' }); // unreachable / unauthorised PACS fails here, before any work
  const jobPath =
    c.jobPath ??
    (c.out
      ? join(c.out, `geometry-ldm-job-${batchId}-shard${c.shard.index}of${c.shard.count}.json`)
      : undefined);
  if (!jobPath)
    throw new UsageError('--job FILE is required with --stow and no --out (it makes the batch resumable)');
  // A job file of another batch or shard is refused before anything is written or loaded.
  if (existsSync(jobPath)) JobFile.open(jobPath, batchId, { ...request, shard: c.shard });
  const model = await loadModelDir(c.modelDir, c.threads ?? 0, c.device ?? 'cpu');
  let job: JobFile;
  try {
    mkdirSync(dirname(jobPath), { recursive: true });
    if (c.out) mkdirSync(c.out, { recursive: true });
    job = JobFile.open(jobPath, batchId, { ...request, shard: c.shard });
  } catch (e) {
    await model.release();
    throw e;
  }
  const mine = Array.from({ length: c.count }, (_, i) => i).filter(
    (i) => i % c.shard.count === c.shard.index,
  );
  reporter.event('batch', {
    batchId,
    items: mine.length,
    of: c.count,
    shard: `${c.shard.index}/${c.shard.count}`,
    job: jobPath,
    device: c.device ?? 'cpu',
  });

  const pacs = c.pacs ? pacsKey(c.pacs.url) : undefined;
  try {
    for (const index of mine) {
      const dir = c.out ? join(c.out, `item-${String(index).padStart(5, '0')}`) : undefined;
      const needFiles = dir !== undefined && !job.hasFiles(index, dir);
      const needStore = pacs !== undefined && !job.storedIn(index, pacs);
      if (!needFiles && !needStore) {
        reporter.event('skipped', {
          index,
          studyInstanceUid: job.item(index)?.studyInstanceUid,
          reason: 'already done',
        });
        continue;
      }
      const seed = deriveSeed(c.seed, 'batch', batchId, index);
      // Only the PACS copy is missing and a folder still holds the files: store exactly those files.
      const recorded = job.item(index);
      const fromFiles = needFiles || !recorded ? undefined : recordedFiles(job, index);
      let instances: readonly StowInstance[];
      let ids: Pick<JobItem, 'studyInstanceUid' | 'seriesInstanceUid'>;
      if (fromFiles && recorded) {
        instances = fromFiles;
        ids = recorded;
      } else {
        const built = await generateItem(
          c,
          spec,
          manifest,
          model,
          batchId,
          index,
          seed,
          job,
          reporter,
          signal,
        );
        instances = built.series.instances;
        ids = built.series;
        if (dir && needFiles && c.out) {
          // the item folder and its NIfTI land together, or not at all (a full disk, a crash)
          const name = basename(dir);
          const files = instances;
          const volume = built.volume;
          writeOutAtomically(c.out, (tmp) => {
            mkdirSync(join(tmp, name));
            files.forEach((inst, k) =>
              writeFileSync(join(tmp, name, `${String(k + 1).padStart(4, '0')}.dcm`), inst.bytes),
            );
            writeFileSync(
              join(tmp, `${name}.nii`),
              volumeToNifti(volume, `geometry-ldm synthetic ${batchId}/${index}`),
            );
          });
        }
      }
      // Each destination is recorded as soon as it is complete (a failed STOW keeps the files' record).
      const record = (where: Pick<JobItem, 'writtenTo' | 'storedTo'>) =>
        job.record_({
          index,
          seed,
          studyInstanceUid: ids.studyInstanceUid,
          seriesInstanceUid: ids.seriesInstanceUid,
          instances: instances.length,
          ...where,
        });
      if (dir && needFiles) record({ writtenTo: [dir], storedTo: [] });
      if (transport && needStore) {
        const report = await stowInstances(transport, instances, {});
        if (report.notStored.length > 0 || !report.verified) {
          throw new DicomError(
            'partial-store',
            `item ${index}: ${report.stored.length} of ${instances.length} instances stored; not stored: ${report.notStored
              .slice(0, 3)
              .map((f) => `${f.sopInstanceUid} (${f.reason})`)
              .join(', ')}`,
          );
        }
      }
      if (pacs && needStore) record({ writtenTo: [], storedTo: [pacs] });
      reporter.event('item', {
        index,
        seed,
        studyInstanceUid: ids.studyInstanceUid,
        seriesInstanceUid: ids.seriesInstanceUid,
        instances: instances.length,
        stored: pacs !== undefined,
        ...(dir ? { out: dir } : {}),
        ...(fromFiles ? { from: 'files' } : {}),
      });
    }
  } finally {
    await model.release();
  }
  reporter.event('done', { batchId, shard: `${c.shard.index}/${c.shard.count}`, items: job.items().length });
}

/** The item's Part 10 files from a recorded folder, if one still holds all of them intact; else undefined. */
function recordedFiles(job: JobFile, index: number): StowInstance[] | undefined {
  const item = job.item(index);
  if (!item) return undefined;
  for (const dir of job.fileCopies(index)) {
    try {
      const files = readdirSync(dir)
        .filter((f) => f.endsWith('.dcm'))
        .sort()
        .map((f) => ({ name: join(dir, f), bytes: new Uint8Array(readFileSync(join(dir, f))) }));
      const { instances, repaired } = prepareImport(files, 'geometry-ldm-job');
      if (
        repaired.length === 0 &&
        instances.length === item.instances &&
        instances.every(
          (x) =>
            x.studyInstanceUid === item.studyInstanceUid && x.seriesInstanceUid === item.seriesInstanceUid,
        )
      )
        return instances;
    } catch {
      // damaged or foreign files: try the next copy, else generate again
    }
  }
  return undefined;
}

async function generateItem(
  c: GenerateCommand,
  spec: GenerationGeometrySpec,
  manifest: ModelManifest,
  model: LoadedModel,
  batchId: string,
  index: number,
  seed: number,
  job: JobFile,
  reporter: Reporter,
  signal: AbortSignal | undefined,
): Promise<{ series: BuiltSeries; volume: Volume }> {
  const uid = (what: string) => deterministicUid(`geometry-ldm/batch/${batchId}/${index}/${what}`);
  const r = await generate(
    model,
    { geometry: spec, seed, sampler: c.sampler, samples: 1 },
    { signal, onProgress: (e) => reporter.progress(`item ${index}`, e) },
  );
  const volume = r.samples[0].volume;
  const generation: GenerationParameters = {
    grid: [...c.grid],
    spacingMm: [...r.geometry.spacingMm],
    fov: c.fov,
    rotationDeg: [...c.rotationDeg],
    seed: [c.seed, batchId, index],
    sampler: c.sampler,
    model: { name: manifest.name, version: manifest.version },
    batchId,
    item: index,
  };
  const built = buildSyntheticStudy(
    {
      volume,
      generation,
      patient: { kind: 'synthetic', id: `SYNTH-${batchId.slice(0, 8)}-${index}` },
      uids: {
        study: uid('study'),
        series: uid('series'),
        frameOfReference: uid('for'),
        instance: (k) => uid(`sop/${k}`),
      },
    },
    job.createdAt,
  );
  return { series: built.series, volume };
}
