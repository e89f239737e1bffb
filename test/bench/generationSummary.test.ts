import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generationBaseline, summarizeGeneration } from '../../scripts/bench/generationSummary';

const row = (c: string, w1Hu: number, boneFraction: number, realBoneFraction: number) => ({
  case: c,
  w1Hu,
  boneFraction,
  realBoneFraction,
});

describe('generation-quality summary', () => {
  it('means the W1 and the bone gap over the cases', () => {
    const s = summarizeGeneration([row('a, vs x', 40, 0.05, 0.08), row('b, vs x', 60, 0.1, 0.09)]);
    expect(s.cases).toBe(2);
    expect(s.meanW1Hu).toBeCloseTo(50, 10);
    expect(s.boneGapPp).toBeCloseTo(2, 10); // (3 + 1) / 2 percentage points
    expect(s.baseline).toBeUndefined();
  });

  it('means the lung-shape gaps when every case has them', () => {
    const lung = (
      fraction: number,
      realFraction: number,
      fragmentation: number,
      realFragmentation: number,
    ) => ({
      fraction,
      realFraction,
      fragmentation,
      realFragmentation,
    });
    const a = { ...row('a, vs x', 40, 0, 0), lung: lung(0.1, 0.2, 0.3, 0.05) };
    const b = { ...row('b, vs x', 60, 0, 0), lung: lung(0.25, 0.2, 0.1, 0.05) };
    const s = summarizeGeneration([a, b]);
    expect(s.lungGapPp).toBeCloseTo(7.5, 10); // (10 + 5) / 2
    expect(s.fragmentationGapPp).toBeCloseTo(15, 10); // (25 + 5) / 2
    // a case without the measure (an older bench row): no lung gaps rather than a mean of some
    expect(s.skeletonGapPp).toBeUndefined();
    const withSkeleton = summarizeGeneration([
      { ...a, skeleton: { largestShare: 0.2, realLargestShare: 0.6 } },
      { ...b, skeleton: { largestShare: 0.5, realLargestShare: 0.4 } },
    ]);
    expect(withSkeleton.skeletonGapPp).toBeCloseTo(25, 10); // (40 + 10) / 2
    expect(withSkeleton.autoencoderSkeletonGapPp).toBeUndefined(); // no round-trip measure
    const withRoundTrip = summarizeGeneration([
      { ...a, skeleton: { largestShare: 0.2, realLargestShare: 0.6, autoencoderLargestShare: 0.5 } },
      { ...b, skeleton: { largestShare: 0.5, realLargestShare: 0.4, autoencoderLargestShare: 0.7 } },
    ]);
    expect(withRoundTrip.skeletonGapPp).toBeCloseTo(25, 10);
    expect(withRoundTrip.autoencoderSkeletonGapPp).toBeCloseTo(20, 10); // (10 + 30) / 2
    const oneRoundTrip = summarizeGeneration([
      { ...a, skeleton: { largestShare: 0.2, realLargestShare: 0.6, autoencoderLargestShare: 0.5 } },
      { ...b, skeleton: { largestShare: 0.5, realLargestShare: 0.4 } },
    ]);
    expect(oneRoundTrip.autoencoderSkeletonGapPp).toBeUndefined();
    expect(withRoundTrip.skeletonGapFromTPp).toBeUndefined(); // no probe
    const probe = (shares: number[], ts = [100, 600]) => ts.map((t, i) => ({ t, largestShare: shares[i] }));
    const probed = summarizeGeneration([
      { ...a, skeleton: { largestShare: 0.2, realLargestShare: 0.6, fromT: probe([0.55, 0.9]) } },
      { ...b, skeleton: { largestShare: 0.5, realLargestShare: 0.4, fromT: probe([0.4, 0.7]) } },
    ]);
    expect(probed.skeletonGapFromTPp).toHaveLength(2);
    expect(probed.skeletonGapFromTPp![0].t).toBe(100);
    expect(probed.skeletonGapFromTPp![0].gapPp).toBeCloseTo(2.5, 10); // (5 + 0) / 2
    expect(probed.skeletonGapFromTPp![1].t).toBe(600);
    expect(probed.skeletonGapFromTPp![1].gapPp).toBeCloseTo(30, 10); // (30 + 30) / 2
    // cases probed at different levels, or one not probed: no per-t gap rather than a mixed mean
    const mixed = summarizeGeneration([
      { ...a, skeleton: { largestShare: 0.2, realLargestShare: 0.6, fromT: probe([0.55, 0.9]) } },
      { ...b, skeleton: { largestShare: 0.5, realLargestShare: 0.4, fromT: probe([0.4, 0.7], [100, 700]) } },
    ]);
    expect(mixed.skeletonGapFromTPp).toBeUndefined();
    const oneProbed = summarizeGeneration([
      { ...a, skeleton: { largestShare: 0.2, realLargestShare: 0.6, fromT: probe([0.55, 0.9]) } },
      { ...b, skeleton: { largestShare: 0.5, realLargestShare: 0.4 } },
    ]);
    expect(oneProbed.skeletonGapFromTPp).toBeUndefined();
    const partial = summarizeGeneration([a, row('b, vs x', 60, 0, 0)]);
    expect(partial.lungGapPp).toBeUndefined();
    expect(partial.fragmentationGapPp).toBeUndefined();
  });

  it('compares case by case with a baseline', () => {
    const base = new Map([
      ['a, vs x', 50],
      ['b, vs x', 40],
    ]);
    const s = summarizeGeneration([row('a, vs x', 40, 0, 0), row('b, vs x', 60, 0, 0)], base);
    expect(s.baseline).toEqual({ meanW1Hu: 45, lower: 1, worstRatio: 1.5, worstCase: 'b, vs x' });
    expect(() => summarizeGeneration([row('c, vs x', 1, 0, 0)], base)).toThrow(
      /baseline has no W1 for: c, vs x/,
    );
  });

  it("reads the committed model's recorded W1 (its mean over the 8 cases is in its card)", () => {
    const metrics = JSON.parse(
      readFileSync(path.join(__dirname, '../../models/geometry-ldm-demo/metrics.json'), 'utf8'),
    );
    const base = generationBaseline(metrics);
    expect(base.size).toBe(8);
    expect(base.get('whole box, vs lidc-idri-0001')).toBe(
      metrics.generationQualityHeldOut.w1Hu['whole box']['lidc-idri-0001'].meanHu,
    );
    const card = readFileSync(path.join(__dirname, '../../models/geometry-ldm-demo/README.md'), 'utf8');
    const mean = [...base.values()].reduce((a, b) => a + b, 0) / base.size;
    expect(card).toContain(`${mean.toFixed(1)} HU`);
  });

  it("reads a bench JSON's sample rows and skips the floor rows", () => {
    const base = generationBaseline({
      results: [
        { case: 'whole box, vs s', w1Hu: 42, boneFraction: 0.05 },
        { case: 'whole box, real vs real (floor)', w1Hu: 29.6 },
      ],
    });
    expect([...base.entries()]).toEqual([['whole box, vs s', 42]]);
    expect(() => generationBaseline({ nothing: 1 })).toThrow(/neither a model metrics.json/);
  });
});
