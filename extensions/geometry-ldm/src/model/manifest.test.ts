import {
  checkGrid,
  fileUrl,
  groupSpaceDefinition,
  intensityParams,
  isSupportedGrid,
  ManifestError,
  parseManifest,
  parseManifestText,
  scheduleConfig,
  sha256Hex,
  superResolutionDefaults,
  verifyModelFile,
  type ModelManifest,
} from './manifest';
import { validManifestJson as validManifest } from './__fixtures__/validManifest';

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    expect((e as ManifestError).code).toBe(code);
    return;
  }
  throw new Error(`expected ManifestError ${code}`);
}

describe('model manifest', () => {
  it('accepts a valid manifest and exposes its parts', () => {
    const m = parseManifest(validManifest());
    expect(intensityParams(m)).toEqual({ huMin: -1000, huMax: 1000, modelMin: 0, modelMax: 1, clip: true });
    expect(scheduleConfig(m)).toEqual({
      numTrainTimesteps: 1000,
      betaStart: 0.0015,
      betaEnd: 0.0195,
      betaSchedule: 'scaled_linear',
      varianceType: 'fixed_large',
    });
    expect(superResolutionDefaults(m)).toEqual({
      tStart: 100,
      cycles: 5,
      ddimSteps: 10,
      samples: 8,
      // no refiner in this manifest: the paper's latent diffusion is the default mode
      mode: 'diffusion',
      refinerSamples: 2,
      projectionIterations: 10,
    });
    expect(groupSpaceDefinition(m).kind).toBe('scan-extent');
    expect(groupSpaceDefinition(m).referenceExtentMm).toEqual([375, 355, 295]);
  });

  it('rejects text that is not JSON', () => {
    expectCode(() => parseManifestText('{nope'), 'invalid-json');
  });

  it('rejects schema violations with the path in the message', () => {
    const m = validManifest();
    delete m.licence;
    expectCode(() => parseManifest(m), 'schema');
    const m2 = validManifest();
    m2.intendedUse = 'diagnosis';
    expectCode(() => parseManifest(m2), 'schema');
    const m3 = validManifest();
    (m3.files as Record<string, { sha256: string }>).encoder.sha256 = 'xyz';
    expect(() => parseManifest(m3)).toThrow(/files\/encoder\/sha256/);
    const m4 = validManifest();
    (m4 as Record<string, unknown>).extra = 1;
    expectCode(() => parseManifest(m4), 'schema');
    // generation.ddimEta: a number in [0, 1]
    const withEta = (eta: unknown) => {
      const m = validManifest();
      (m.generation as Record<string, unknown>).ddimEta = eta;
      return m;
    };
    expect(parseManifest(withEta(1)).generation.ddimEta).toBe(1);
    expectCode(() => parseManifest(withEta(1.5)), 'schema');
    expectCode(() => parseManifest(withEta(-0.1)), 'schema');
    expectCode(() => parseManifest(withEta('1')), 'schema');
  });

  it('accepts latent factors 4 and 8 only (one stride-2 level per autoencoder width)', () => {
    const withFactor = (factor: unknown) => {
      const m = validManifest();
      (m.latent as Record<string, unknown>).factor = factor;
      return m;
    };
    expect(parseManifest(withFactor(8)).latent.factor).toBe(8);
    expect(parseManifest(withFactor(4)).latent.factor).toBe(4);
    for (const bad of [2, 6, 16, '4']) {
      expect(() => parseManifest(withFactor(bad))).toThrow(/latent\/factor/);
    }
  });

  it('accepts a generation guidance scale from 1 to 20, absent meaning none', () => {
    const withGuidance = (scale: unknown) => {
      const m = validManifest();
      (m.generation as Record<string, unknown>).guidanceScale = scale;
      return m;
    };
    expect(parseManifest(validManifest()).generation.guidanceScale).toBeUndefined();
    expect(parseManifest(withGuidance(1)).generation.guidanceScale).toBe(1);
    expect(parseManifest(withGuidance(2.5)).generation.guidanceScale).toBe(2.5);
    for (const bad of [0.5, 21, '2']) {
      expect(() => parseManifest(withGuidance(bad))).toThrow(/generation\/guidanceScale/);
    }
  });

  it('rejects an unknown schema version', () => {
    const m = validManifest();
    m.schemaVersion = 2;
    expectCode(() => parseManifest(m), 'unsupported-version');
  });

  it('rejects values the schema cannot judge', () => {
    const m = validManifest();
    (m.intensity as { huMax: number }).huMax = -2000;
    expectCode(() => parseManifest(m), 'invalid-value');
    const m2 = validManifest();
    (m2.grid as { min: number[] }).min = [30, 32, 32];
    expectCode(() => parseManifest(m2), 'invalid-value');
    const m3 = validManifest();
    (m3.superResolution as { tStart: number }).tStart = 1000;
    expectCode(() => parseManifest(m3), 'invalid-value');
    const m4 = validManifest();
    (m4.groupSpace as { axes: unknown[] }).axes.reverse();
    expectCode(() => parseManifest(m4), 'invalid-value');
  });

  it('rejects ONNX input/output names that break the contract', () => {
    const m = validManifest();
    (m.onnx as { unet: { inputs: { name: string }[] } }).unet.inputs[1].name = 'timestep';
    expectCode(() => parseManifest(m), 'io-mismatch');
  });

  it('checks grids against the supported range', () => {
    const m = parseManifest(validManifest());
    expect(isSupportedGrid(m, [64, 64, 32])).toBe(true);
    expect(isSupportedGrid(m, [60, 64, 32])).toBe(false);
    expect(isSupportedGrid(m, [64, 64, 264])).toBe(false);
    expectCode(() => checkGrid(m, [16, 64, 64]), 'unsupported-grid');
  });

  it('verifies byte size and sha256 of files', async () => {
    const bytes = new TextEncoder().encode('0123456789');
    const hash = await sha256Hex(bytes);
    expect(hash).toBe('84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882');
    const raw = validManifest();
    (raw.files as Record<string, { sha256: string }>).encoder.sha256 = hash;
    const m: ModelManifest = parseManifest(raw);
    await expect(verifyModelFile(m, 'encoder', bytes)).resolves.toBeUndefined();
    await expect(verifyModelFile(m, 'decoder', bytes)).rejects.toMatchObject({ code: 'sha256-mismatch' });
    await expect(verifyModelFile(m, 'encoder', bytes.subarray(1))).rejects.toMatchObject({
      code: 'size-mismatch',
    });
  });

  it('resolves file URLs relative to the manifest', () => {
    const m = parseManifest(validManifest());
    expect(fileUrl('/models/demo/model.json', m, 'unet')).toBe('/models/demo/unet.onnx');
    expect(fileUrl('https://host/a/model.json', m, 'encoder')).toBe('https://host/a/encoder.onnx');
  });
});
