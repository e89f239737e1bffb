/** A schema-valid manifest for the panels' unit tests (validated by parseManifest, not trusted). */
import { validManifestJson } from '../../model/__fixtures__/validManifest';
import { parseManifest, type ModelManifest } from '../../model/manifest';

const SHA = 'b'.repeat(64);

export function testManifest(grid: Record<string, unknown> = {}): ModelManifest {
  const base = validManifestJson();
  const file = (path: string) => ({ path, sha256: SHA, bytes: 10, weights: 'float32' });
  return parseManifest({
    ...base,
    name: 'panel-test-model',
    version: '0.1.0',
    licence: 'MIT',
    trainingData: { summary: 'none', heldOut: [] },
    files: { encoder: file('encoder.onnx'), decoder: file('decoder.onnx'), unet: file('unet.onnx') },
    latent: { factor: 8, channels: 8, scale: 1, quantised: true, codebookSize: 32 },
    grid: { min: [32, 32, 32], max: [256, 256, 256], multipleOf: 8, trainedMax: [64, 64, 64], ...grid },
  });
}
