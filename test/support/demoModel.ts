/**
 * The committed demo model (models/geometry-ldm-demo) in the same shape as an
 * exported tiny model, for tests that must run the real model (CLI, viewer).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseManifestText } from '../../extensions/geometry-ldm/src/model/manifest';
import type { ExportedModel } from './tinyModel';

export const DEMO_MODEL_DIR = resolve(__dirname, '..', '..', 'models', 'geometry-ldm-demo');

export function demoModel(): ExportedModel {
  if (!existsSync(join(DEMO_MODEL_DIR, 'model.json')))
    throw new Error(`the demo model is missing at ${DEMO_MODEL_DIR} (it is committed to the repository)`);
  return {
    dir: DEMO_MODEL_DIR,
    manifest: parseManifestText(readFileSync(join(DEMO_MODEL_DIR, 'model.json'), 'utf8')),
    readFile: (p: string) => new Uint8Array(readFileSync(join(DEMO_MODEL_DIR, p))),
    remove: () => undefined, // committed: never deleted
  };
}
