/** `geometry-ldm super-resolve`: one series of a study to a finer grid, written back or to files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Vec3 } from '../geometry/conventions';
import { readSeries } from '../dicom/readSeries';
import { searchSeries } from '../dicom/qido';
import { buildDerivedSeries } from '../dicom/writeDerivedSeries';
import { stowInstances } from '../dicom/stow';
import { DicomError } from '../dicom/errors';
import { superResolve } from '../inference/superResolve';
import { planSuperResolutionTarget, type SuperResolutionTarget } from '../inference/superResolutionTarget';
import { checkGrid } from '../model/manifest';
import { volumeToNifti } from '../formats/nifti';
import { loadModelDir, readManifest, type Device } from './nodeModel';
import type { Reporter } from './output';
import { pacsTransport, type PacsConfig } from './pacs';
import { UsageError } from './exitCodes';

export interface SuperResolveCommand {
  readonly pacs: PacsConfig;
  readonly study: string;
  readonly series?: string;
  readonly spacingMm?: Vec3;
  readonly scale?: number;
  readonly samples?: number;
  readonly cycles?: number;
  readonly tStart?: number;
  readonly steps?: number;
  readonly seed: string;
  readonly stdMap: boolean;
  readonly modelDir: string;
  readonly out?: string;
  readonly stow: boolean;
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
    throw new UsageError('give exactly one of --spacing X,Y,Z or --scale S');
  const manifest = await readManifest(c.modelDir);
  const transport = pacsTransport(c.pacs);
  const all = await searchSeries(transport, c.study);
  if (all.length === 0) throw new UsageError(`study ${c.study} was not found on the PACS (or has no series)`);
  let seriesUid = c.series;
  if (!seriesUid) {
    const ct = all
      .filter((s) => s.modality === 'CT')
      .sort((a, b) => (b.numberOfInstances ?? 0) - (a.numberOfInstances ?? 0));
    if (ct.length === 0) throw new UsageError(`study ${c.study} has no CT series`);
    seriesUid = ct[0].seriesInstanceUid as string;
  } else if (!all.some((s) => s.seriesInstanceUid === seriesUid)) {
    throw new UsageError(`series ${seriesUid} is not in study ${c.study}`);
  }
  const target: SuperResolutionTarget =
    c.spacingMm !== undefined
      ? { kind: 'spacing', spacingMm: c.spacingMm }
      : { kind: 'scale', factor: c.scale as number };
  reporter.info(`reading series ${seriesUid}`);
  const read = await readSeries(transport, c.study, seriesUid, { irregular: 'resample' });
  // Validate the target (coarser than the source, supported grid) before any model work or write.
  const plan = planSuperResolutionTarget(read.volume, target, manifest.grid.multipleOf);
  checkGrid(manifest, plan.padded.dims);
  reporter.event('plan', { source: read.volume.dims, target: plan.output.dims, modelGrid: plan.padded.dims });

  const model = await loadModelDir(c.modelDir, c.threads ?? 0, c.device ?? 'cpu');
  let r;
  try {
    r = await superResolve(model, read.volume, target, {
      samples: c.samples,
      cycles: c.cycles,
      tStart: c.tStart,
      ddimSteps: c.steps,
      seed: c.seed,
      signal,
      onProgress: (e) => reporter.progress('super-resolve', e),
    });
  } finally {
    await model.release();
  }
  const built = buildDerivedSeries({
    source: read.instances,
    result: r.mean,
    ...(c.stdMap ? { uncertainty: r.std } : {}),
    model: { name: manifest.name, version: manifest.version },
    label: `SR ${plan.output.dims.join('x')}`,
  });
  const series = [built.result, ...(built.uncertainty ? [built.uncertainty] : [])];
  if (c.out) {
    mkdirSync(c.out, { recursive: true });
    series.forEach((s, n) => {
      const dir = join(c.out as string, n === 0 ? 'super-resolved' : 'uncertainty');
      mkdirSync(dir, { recursive: true });
      s.instances.forEach((inst, k) =>
        writeFileSync(join(dir, `${String(k + 1).padStart(4, '0')}.dcm`), inst.bytes),
      );
    });
    writeFileSync(
      join(c.out, 'super-resolved.nii'),
      volumeToNifti(r.mean, 'geometry-ldm super-resolved mean'),
    );
    if (c.stdMap) writeFileSync(join(c.out, 'uncertainty.nii'), volumeToNifti(r.std, 'geometry-ldm std map'));
  }
  if (c.stow) {
    for (const s of series) {
      const report = await stowInstances(transport, s.instances, { studyInstanceUid: s.studyInstanceUid });
      if (report.notStored.length > 0 || !report.verified) {
        throw new DicomError(
          'partial-store',
          `series ${s.seriesInstanceUid}: ${report.stored.length} of ${s.instances.length} instances stored`,
        );
      }
      reporter.event('stored', {
        studyInstanceUid: s.studyInstanceUid,
        seriesInstanceUid: s.seriesInstanceUid,
        instances: s.instances.length,
      });
    }
  }
  reporter.event('done', {
    seriesInstanceUid: built.result.seriesInstanceUid,
    ...(built.uncertainty ? { uncertaintySeriesInstanceUid: built.uncertainty.seriesInstanceUid } : {}),
    grid: plan.output.dims,
  });
}
