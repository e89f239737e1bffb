/** `geometry-ldm models info DIR` and `geometry-ldm models verify DIR`. */
import { modelFile, modelParts, verifyModelFile } from '../model/manifest';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { generate } from '../inference/generate';
import { loadModelDir, readManifest, type Device } from './nodeModel';
import type { Reporter } from './output';
import { UsageError } from './exitCodes';

export async function modelsInfo(dir: string, reporter: Reporter): Promise<void> {
  const m = await readManifest(dir);
  reporter.event('model', {
    name: m.name,
    version: m.version,
    licence: m.licence,
    intendedUse: m.intendedUse,
    groupSpace: m.groupSpace.kind,
    referenceExtentMm: m.groupSpace.referenceExtentMm,
    gridMin: m.grid.min,
    gridMax: m.grid.max,
    intensity: m.intensity,
    superResolution: m.superResolution,
    files: Object.fromEntries(
      modelParts(m).map((p) => {
        const f = modelFile(m, p);
        return [p, { path: f.path, bytes: f.bytes, weights: f.weights }];
      }),
    ),
  });
}

/** Manifest schema, file sizes + sha256, then a smoke inference: the smallest supported grid, 2 DDIM steps. */
export async function modelsVerify(dir: string, reporter: Reporter, device: Device = 'cpu'): Promise<void> {
  const m = await readManifest(dir);
  for (const part of modelParts(m)) {
    const f = modelFile(m, part);
    const bytes = new Uint8Array(await readFile(join(resolve(dir), f.path)));
    await verifyModelFile(m, part, bytes);
    reporter.event('checksum', { part, path: f.path, sha256: f.sha256, ok: true });
  }
  const model = await loadModelDir(dir, 0, device);
  try {
    const started = Date.now();
    const r = await generate(model, {
      geometry: { kind: 'fov', dims: m.grid.min },
      seed: 'verify',
      sampler: { kind: 'ddim', steps: 2 },
    });
    const data = r.samples[0].volume.data;
    if (!data.every(Number.isFinite)) throw new UsageError('smoke inference produced non-finite values');
    reporter.event('smoke', { grid: m.grid.min, device, ms: Date.now() - started, ok: true });
  } finally {
    await model.release();
  }
  reporter.event('verified', { name: m.name, version: m.version });
}
