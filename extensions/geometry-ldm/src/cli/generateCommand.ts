/**
 * `geometry-ldm generate`: a batch of synthetic studies. Every item's seed and
 * UIDs derive from (batch id, item index), so a rerun (after a crash, Ctrl-C,
 * or on another shard) produces the same items, and `--shard I/N` splits a
 * batch deterministically: item i belongs to shard i mod N.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dims3, Vec3 } from '../geometry/conventions';
import type { FovRanges, GenerationGeometrySpec } from '../geometry/generationGeometry';
import { deriveSeed } from '../diffusion/rng';
import { checkGrid } from '../model/manifest';
import { generate } from '../inference/generate';
import type { SamplerSpec } from '../inference/sampler';
import { buildSyntheticStudy, type GenerationParameters } from '../dicom/writeSyntheticStudy';
import { stowInstances } from '../dicom/stow';
import { searchStudies } from '../dicom/qido';
import { deterministicUid } from '../dicom/uids';
import { DicomError } from '../dicom/errors';
import { volumeToNifti } from '../formats/nifti';
import { JobFile } from './jobFile';
import { loadModelDir, readManifest } from './nodeModel';
import type { Reporter } from './output';
import { pacsTransport, type PacsConfig } from './pacs';
import { UsageError } from './exitCodes';

export interface GenerateCommand {
  readonly grid: Dims3;
  readonly spacingMm?: Vec3;
  readonly fov: FovRanges;
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
}

export function geometrySpec(
  c: Pick<GenerateCommand, 'grid' | 'spacingMm' | 'fov' | 'rotationDeg'>,
): GenerationGeometrySpec {
  if (c.spacingMm) {
    // With a spacing the FOV follows from grid x spacing; --fov ranges then only place its centre.
    const centre = c.fov.map(([lo, hi]) => (lo + hi) / 2) as unknown as Vec3;
    return {
      kind: 'spacing',
      dims: c.grid,
      spacingMm: c.spacingMm,
      fovCentre: centre,
      rotationDeg: c.rotationDeg,
    };
  }
  return { kind: 'fov', dims: c.grid, fov: c.fov, rotationDeg: c.rotationDeg };
}

export async function runGenerate(
  c: GenerateCommand,
  reporter: Reporter,
  signal?: AbortSignal,
): Promise<void> {
  if (!c.out && !c.pacs) throw new UsageError('give --out DIR or --stow (with --pacs URL)');
  const manifest = await readManifest(c.modelDir);
  const spec = geometrySpec(c);
  checkGrid(manifest, c.grid); // before anything is written
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
  if (c.out) mkdirSync(c.out, { recursive: true });
  const job = JobFile.open(jobPath, batchId, { ...request, shard: c.shard });
  const mine = Array.from({ length: c.count }, (_, i) => i).filter(
    (i) => i % c.shard.count === c.shard.index,
  );
  reporter.event('batch', {
    batchId,
    items: mine.length,
    of: c.count,
    shard: `${c.shard.index}/${c.shard.count}`,
    job: jobPath,
  });

  const model = await loadModelDir(c.modelDir, c.threads ?? 0);
  try {
    for (const index of mine) {
      const done = job.done(index);
      if (done) {
        reporter.event('skipped', { index, studyInstanceUid: done.studyInstanceUid, reason: 'already done' });
        continue;
      }
      const seed = deriveSeed(c.seed, 'batch', batchId, index);
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
      const { series } = built;
      let written: string | undefined;
      if (c.out) {
        written = join(c.out, `item-${String(index).padStart(5, '0')}`);
        mkdirSync(written, { recursive: true });
        series.instances.forEach((inst, k) =>
          writeFileSync(join(written as string, `${String(k + 1).padStart(4, '0')}.dcm`), inst.bytes),
        );
        writeFileSync(`${written}.nii`, volumeToNifti(volume, `geometry-ldm synthetic ${batchId}/${index}`));
      }
      let stored = false;
      if (transport) {
        const report = await stowInstances(transport, series.instances, {});
        if (report.notStored.length > 0 || !report.verified) {
          throw new DicomError(
            'partial-store',
            `item ${index}: ${report.stored.length} of ${series.instances.length} instances stored; not stored: ${report.notStored
              .slice(0, 3)
              .map((f) => `${f.sopInstanceUid} (${f.reason})`)
              .join(', ')}`,
          );
        }
        stored = true;
      }
      job.record_({
        index,
        seed,
        studyInstanceUid: series.studyInstanceUid,
        seriesInstanceUid: series.seriesInstanceUid,
        instances: series.instances.length,
        stored,
        ...(written ? { written } : {}),
      });
      reporter.event('item', {
        index,
        seed,
        studyInstanceUid: series.studyInstanceUid,
        seriesInstanceUid: series.seriesInstanceUid,
        instances: series.instances.length,
        stored,
        ...(written ? { out: written } : {}),
      });
    }
  } finally {
    await model.release();
  }
  reporter.event('done', { batchId, shard: `${c.shard.index}/${c.shard.count}`, items: job.items().length });
}
