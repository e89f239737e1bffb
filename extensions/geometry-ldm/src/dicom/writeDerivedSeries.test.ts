/**
 * Labels and numbering of the derived and synthetic series, read back from the
 * built Part 10 bytes (dcmjs parse): the AI-generated and NOT FOR DIAGNOSTIC
 * USE markers survive any label, model name or description length, and
 * SeriesNumbers are deterministic and avoid the study's existing ones.
 */
import { makeVolume } from '../volume/volume';
import { NOT_FOR_DIAGNOSTIC_USE, fitText } from './ctImage';
import { DicomError } from './errors';
import { readPart10Raw } from './part10';
import { buildDerivedSeries, derivedSeriesNumbers } from './writeDerivedSeries';
import { buildSyntheticStudy } from './writeSyntheticStudy';
import { sourceSeries } from './__fixtures__/sourceSeries';

const sources = (seriesNumber?: number) =>
  sourceSeries(3, {
    '0008103E': { vr: 'LO', Value: ['THORAX 1.0 B31f with a long source description of 64 chars.'] },
    '00200011': seriesNumber != null ? { vr: 'IS', Value: [seriesNumber] } : undefined,
  });
const grid = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const result = makeVolume([4, 4, 5], grid, new Float32Array(80).fill(40), 'HU');
const std = makeVolume([4, 4, 5], grid, new Float32Array(80).fill(3.5), 'HU-std');

/** Text attributes of the first instance, as a DICOM reader sees them. */
function texts(bytes: Uint8Array): Record<string, string> {
  const { dict } = readPart10Raw(bytes);
  const v = (tag: string) => String(dict[tag]?.Value?.[0] ?? '');
  const equipment = (dict['0018A001']?.Value?.[0] ?? {}) as Record<string, { Value?: unknown[] }>;
  return {
    seriesDescription: v('0008103E'),
    imageComments: v('00204000'),
    derivationDescription: v('00082111'),
    studyDescription: v('00081030'),
    seriesNumber: v('00200011'),
    contributionDescription: String(equipment['0018A003']?.Value?.[0] ?? ''),
  };
}

const LONG_MODEL = 'geometry-ldm super-resolution ' + 'very-long-model-name-'.repeat(60);

describe('the AI / not-for-diagnostic markers survive any label', () => {
  test.each([
    'SR 272x272x288',
    '0.70x0.70x1.25mm',
    'SR 272x272x288 from 0.70x0.70x1.25mm (x2 z, tiles 4, 8 samples)',
    'x'.repeat(300),
  ])('label %p: result and std series', (label) => {
    const built = buildDerivedSeries({
      source: sources(3),
      result,
      uncertainty: std,
      model: { name: LONG_MODEL, version: '0.1.0' },
      label,
    });
    const r = texts(built.result.instances[0].bytes);
    const s = texts(built.uncertainty!.instances[0].bytes);
    for (const [t, head] of [
      [r, 'AI super-resolution'],
      [s, 'AI SR uncertainty'],
    ] as const) {
      expect(t.seriesDescription.length).toBeLessThanOrEqual(64);
      expect(t.seriesDescription.startsWith(`${head} `)).toBe(true);
      expect(t.seriesDescription.endsWith(` - ${NOT_FOR_DIAGNOSTIC_USE}`)).toBe(true);
      // the label itself is kept whole when it fits, else its start is kept
      const shown = t.seriesDescription.slice(head.length + 1, -` - ${NOT_FOR_DIAGNOSTIC_USE}`.length);
      if (label.length <= 64 - head.length - 1 - 25) {
        expect(shown).toBe(label);
      } else {
        expect(shown).toMatch(/\.\.\.$/);
        expect(shown.length).toBeGreaterThan(10);
        expect(label.startsWith(shown.slice(0, -3))).toBe(true);
      }
      expect(t.imageComments).toMatch(/^AI-GENERATED .*NOT FOR DIAGNOSTIC USE\.$/);
      expect(t.derivationDescription.length).toBeLessThanOrEqual(1024);
      expect(t.derivationDescription).toMatch(/^AI super-resolution.* NOT FOR DIAGNOSTIC USE\.$/);
      expect(t.contributionDescription).toMatch(/^AI super-resolution/);
    }
    expect(s.imageComments).toMatch(/^AI-GENERATED UNCERTAINTY MAP/);
    expect(s.derivationDescription).toMatch(/^AI super-resolution uncertainty \(std, HU\)/);
  });

  test('the labels found by the audit fit whole', () => {
    const built = buildDerivedSeries({
      source: sources(),
      result,
      uncertainty: std,
      model: { name: 'm', version: '1' },
      label: 'SR 272x272x288',
    });
    expect(texts(built.uncertainty!.instances[0].bytes).seriesDescription).toBe(
      `AI SR uncertainty SR 272x272x288 - ${NOT_FOR_DIAGNOSTIC_USE}`,
    );
    expect(texts(built.result.instances[0].bytes).seriesDescription).toBe(
      `AI super-resolution SR 272x272x288 - ${NOT_FOR_DIAGNOSTIC_USE}`,
    );
  });

  test('synthetic study: a long user study description and model name keep the markers', () => {
    const { series } = buildSyntheticStudy({
      volume: result,
      generation: {
        grid: [4, 4, 5],
        spacingMm: [1, 1, 1],
        fov: null,
        rotationDeg: [0, 0, 0],
        seed: 1,
        sampler: { name: 'ddim', steps: 50 },
        model: { name: LONG_MODEL, version: '1' },
        notes: 'n'.repeat(20000),
      },
      studyDescription: 'Research cohort 2026 / reader study on lung nodules, batch A, site 3',
    });
    const t = texts(series.instances[0].bytes);
    expect(t.studyDescription.length).toBeLessThanOrEqual(64);
    expect(t.studyDescription).toMatch(/^Research cohort .*\.\.\. - AI SYNTHETIC - NOT FOR DIAGNOSTIC USE$/);
    expect(t.seriesDescription).toBe(`SYNTHETIC AI-generated CT - ${NOT_FOR_DIAGNOSTIC_USE}`);
    expect(t.imageComments.length).toBeLessThanOrEqual(10240);
    expect(t.imageComments).toMatch(
      /^AI-GENERATED SYNTHETIC IMAGE, no real patient\. NOT FOR DIAGNOSTIC USE\. /,
    );
    expect(t.derivationDescription.length).toBeLessThanOrEqual(1024);
    expect(t.derivationDescription).toMatch(/^AI-generated synthetic image \(NOT FOR DIAGNOSTIC USE\) by /);
  });
});

describe('the method is recorded', () => {
  test.each([
    [
      'a method line',
      'AI refiner + projection, 2 samples; slice model box 5.00 mm; reproduces the acquired slices within 0.4 HU (mean; 99 % within 1.9 HU)',
    ],
    ['a method far too long for DerivationDescription', 'classical back-projection (no AI); '.repeat(60)],
  ])('%s: in DerivationDescription, the markers kept', (_n, method) => {
    const built = buildDerivedSeries({
      source: sources(3),
      result,
      uncertainty: std,
      model: { name: 'geometry-ldm-demo', version: '0.2.0' },
      method,
      label: 'refiner x4 z',
    });
    for (const inst of [built.result.instances[0], built.uncertainty!.instances[0]]) {
      const t = texts(inst.bytes);
      expect(t.derivationDescription.length).toBeLessThanOrEqual(1024);
      expect(t.derivationDescription).toMatch(/^AI super-resolution.* NOT FOR DIAGNOSTIC USE\.$/);
      const head = method.slice(0, 60);
      expect(t.derivationDescription).toContain(head);
      if (method.length < 300) expect(t.derivationDescription).toContain(method);
    }
  });
});

describe('fitText', () => {
  test('shortens only the variable part', () => {
    expect(fitText('AI ', 'abcdefghij', ' - END', 15)).toBe('AI abc... - END');
    expect(fitText('AI ', 'abc', ' - END', 15)).toBe('AI abc - END');
    expect(fitText('AI ', 'abcdefghij', ' - END', 10)).toBe('AI  - END');
    expect(() => fitText('AI ', '', 'far too long', 5)).toThrow(DicomError);
  });
});

describe('series numbers', () => {
  test('deterministic: source + 1000, std the next, skipping numbers in use', () => {
    expect(derivedSeriesNumbers(3, [], 2)).toEqual([1003, 1004]);
    expect(derivedSeriesNumbers(3, [1, 2, 3], 2)).toEqual([1003, 1004]);
    expect(derivedSeriesNumbers(3, [3, 1003, 1004], 2)).toEqual([1005, 1006]);
    expect(derivedSeriesNumbers(3, [3, 1004], 2)).toEqual([1005, 1006]);
    expect(derivedSeriesNumbers(3, [3, 1004], 1)).toEqual([1003]);
    expect(derivedSeriesNumbers(null, [], 1)).toEqual([1000]);
    expect(derivedSeriesNumbers(2147483000, [], 2)).toEqual([1000, 1001]);
  });

  test('buildDerivedSeries numbers from the source and the given existing numbers', () => {
    const built = buildDerivedSeries({
      source: sources(7),
      result,
      uncertainty: std,
      model: { name: 'm', version: '1' },
      existingSeriesNumbers: [7, 1007],
    });
    expect(texts(built.result.instances[0].bytes).seriesNumber).toBe('1008');
    expect(texts(built.uncertainty!.instances[0].bytes).seriesNumber).toBe('1009');
    const again = buildDerivedSeries({
      source: sources(7),
      result,
      model: { name: 'm', version: '1' },
      existingSeriesNumbers: [7, 1007],
    });
    expect(texts(again.result.instances[0].bytes).seriesNumber).toBe('1008');
  });
});

describe('lossy compression of the source is kept (PS3.3 C.7.6.1.1.5)', () => {
  const lossyTags = (bytes: Uint8Array) => {
    const { dict } = readPart10Raw(bytes);
    return {
      flag: dict['00282110']?.Value?.[0],
      ratio: dict['00282112']?.Value,
      method: dict['00282114']?.Value,
    };
  };
  const build = (changes: Parameters<typeof sourceSeries>[1]) =>
    buildDerivedSeries({
      source: sourceSeries(3, changes),
      result,
      uncertainty: std,
      model: { name: 'm', version: '1' },
    });

  test('LossyImageCompression 01 with its ratio and method, on the result and the std map', () => {
    const built = build({
      '00282110': { vr: 'CS', Value: ['01'] },
      '00282112': { vr: 'DS', Value: [5.04972] },
      '00282114': { vr: 'CS', Value: ['ISO_10918_1'] },
    });
    for (const s of [built.result, built.uncertainty!])
      expect(lossyTags(s.instances[0].bytes)).toEqual({
        flag: '01',
        ratio: [5.04972],
        method: ['ISO_10918_1'],
      });
  });

  test('a JPEG baseline/extended source without the flag is lossy too', () => {
    const built = build({ '00020010': { vr: 'UI', Value: ['1.2.840.10008.1.2.4.51'] } });
    expect(lossyTags(built.result.instances[0].bytes).flag).toBe('01');
  });

  test('a lossless source (flag 00 or absent) sets nothing', () => {
    expect(
      lossyTags(build({ '00282110': { vr: 'CS', Value: ['00'] } }).result.instances[0].bytes).flag,
    ).toBeUndefined();
    expect(lossyTags(build({}).result.instances[0].bytes).flag).toBeUndefined();
  });
});
