/**
 * A schema-valid model manifest (raw JSON) for unit tests; tests that need a
 * variant copy it and change fields. Validated by parseManifest, never trusted.
 */
const SHA_A = 'a'.repeat(64);

export function validManifestJson(): Record<string, unknown> {
  const t5 = (name: string, c: number | string, dims: string[]) => ({
    name,
    dtype: 'float32',
    shape: ['B', c, ...dims],
  });
  return {
    schemaVersion: 1,
    name: 'unit-test-model',
    version: '1.2.3',
    licence: 'CC-BY-4.0',
    intendedUse: 'research, not for diagnosis',
    trainingData: { summary: 'three CT scans', heldOut: ['lidc-idri-0001'] },
    files: {
      encoder: { path: 'encoder.onnx', sha256: SHA_A, bytes: 10, weights: 'float32' },
      decoder: { path: 'decoder.onnx', sha256: SHA_A, bytes: 10, weights: 'float32' },
      unet: { path: 'unet.onnx', sha256: SHA_A, bytes: 10, weights: 'float16' },
    },
    onnx: {
      opset: 17,
      encoder: {
        inputs: [t5('image', 1, ['D', 'H', 'W']), t5('coords', 3, ['D', 'H', 'W'])],
        outputs: [t5('latent', 8, ['D/8', 'H/8', 'W/8'])],
      },
      decoder: {
        inputs: [t5('latent', 8, ['d', 'h', 'w'])],
        outputs: [t5('image', 1, ['8*d', '8*h', '8*w'])],
      },
      unet: {
        inputs: [
          t5('z_t', 8, ['d', 'h', 'w']),
          { name: 't', dtype: 'float32', shape: ['B'] },
          t5('coords', 3, ['d', 'h', 'w']),
        ],
        outputs: [t5('eps', 8, ['d', 'h', 'w'])],
      },
    },
    latent: { factor: 8, channels: 8, scale: 1.7, quantised: true, codebookSize: 512 },
    intensity: { huMin: -1000, huMax: 1000, modelMin: 0, modelMax: 1, clip: true, outsideValueModel: 0 },
    groupSpace: {
      kind: 'scan-extent',
      referenceExtentMm: [375, 355, 295],
      axes: [
        { axis: 'u', patientAxis: '+x', zero: 'right', one: 'left' },
        { axis: 'v', patientAxis: '+y', zero: 'anterior', one: 'posterior' },
        { axis: 'w', patientAxis: '+z', zero: 'inferior', one: 'superior' },
      ],
    },
    scheduler: {
      type: 'ddpm',
      numTrainTimesteps: 1000,
      betaSchedule: 'scaled_linear',
      betaStart: 0.0015,
      betaEnd: 0.0195,
      varianceType: 'fixed_large',
      predictionType: 'epsilon',
    },
    generation: { ddimSteps: 50, timestepSpacing: 'leading' },
    superResolution: { tStart: 100, cycles: 5, ddimSteps: 10, samples: 8 },
    grid: { min: [32, 32, 32], max: [256, 256, 256], multipleOf: 8 },
  };
}
