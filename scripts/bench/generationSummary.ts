/**
 * The generation-quality bench's summary (pure; generation-quality.mjs prints it): the mean
 * Wasserstein-1 over the sample cases, the bone gap, the lung and skeleton shape gaps
 * (anatomyShape.ts), and, against a baseline (another model's recorded per-case W1), how many
 * cases got lower and the worst ratio: the numbers a release bar (models/training/README.md) is
 * written in.
 */

/** One sample case of the bench: `${geometry}, vs ${scan}`. W1 in HU, fractions in [0, 1]. */
export interface GenerationCaseScore {
  readonly case: string;
  readonly w1Hu: number;
  readonly boneFraction: number;
  readonly realBoneFraction: number;
  /** anatomyShape.ts of the samples (mean) and of the real crop; absent in benches before it. */
  readonly lung?: {
    readonly fraction: number;
    readonly realFraction: number;
    readonly fragmentation: number;
    readonly realFragmentation: number;
  };
  /**
   * anatomyShape.ts boneShape's largestShare of the samples (mean), of the real crop and of the
   * real crop's autoencoder round trip (absent in benches before it).
   */
  readonly skeleton?: {
    readonly largestShare: number;
    readonly realLargestShare: number;
    readonly autoencoderLargestShare?: number;
    /**
     * The real crop noised to t and denoised from there (noisedRoundTrip): its largestShare per
     * probed t, in the bench's order (GEOMETRY_LDM_BENCH_PROBE_T; absent without it).
     */
    readonly fromT?: readonly { readonly t: number; readonly largestShare: number }[];
  };
}

export interface GenerationSummary {
  readonly cases: number;
  readonly meanW1Hu: number;
  /** Mean over the cases of |sample bone fraction - real bone fraction|, percentage points. */
  readonly boneGapPp: number;
  /**
   * Mean over the cases of |sample - real| lung fraction and lung fragmentation, percentage points
   * (only when every case has the lung measure).
   */
  readonly lungGapPp?: number;
  readonly fragmentationGapPp?: number;
  /** Mean over the cases of |sample - real| share of bone in its largest component, pp. */
  readonly skeletonGapPp?: number;
  /**
   * The same gap for the real crops' autoencoder round trips: the part of the skeleton gap the
   * decoder alone accounts for (only when every case has it).
   */
  readonly autoencoderSkeletonGapPp?: number;
  /**
   * Per probed noise level t, the same gap for the real crops noised to t and denoised (only when
   * every case probed the same levels): from which t on the samples' skeleton gap appears.
   */
  readonly skeletonGapFromTPp?: readonly { readonly t: number; readonly gapPp: number }[];
  readonly baseline?: {
    readonly meanW1Hu: number;
    /** Cases whose W1 is below the baseline's. */
    readonly lower: number;
    /** The largest W1 / baseline W1 over the cases, and its case. */
    readonly worstRatio: number;
    readonly worstCase: string;
  };
}

/** A baseline's W1 per case, keyed like GenerationCaseScore.case. */
export type GenerationBaseline = ReadonlyMap<string, number>;

/**
 * The per-case W1 a model recorded in its metrics.json (`generationQualityHeldOut.w1Hu`:
 * geometry -> scan -> { meanHu }), or the rows of a generation-quality bench JSON
 * (`results`: { case, w1Hu, boneFraction? }; floor rows, without boneFraction, are skipped).
 */
export function generationBaseline(json: unknown): GenerationBaseline {
  const out = new Map<string, number>();
  const obj = (json ?? {}) as Record<string, unknown>;
  const held = (
    obj.generationQualityHeldOut as { w1Hu?: Record<string, Record<string, unknown>> } | undefined
  )?.w1Hu;
  if (held) {
    for (const [geometry, byScan] of Object.entries(held)) {
      for (const [scan, v] of Object.entries(byScan)) {
        const meanHu = (v as { meanHu?: unknown })?.meanHu;
        if (typeof meanHu === 'number') out.set(`${geometry}, vs ${scan}`, meanHu);
      }
    }
  } else if (Array.isArray(obj.results)) {
    for (const r of obj.results as { case?: unknown; w1Hu?: unknown; boneFraction?: unknown }[]) {
      if (typeof r.case === 'string' && typeof r.w1Hu === 'number' && r.boneFraction !== undefined)
        out.set(r.case, r.w1Hu);
    }
  }
  if (out.size === 0)
    throw new Error(
      'baseline: neither a model metrics.json with generationQualityHeldOut.w1Hu nor a generation-quality bench JSON',
    );
  return out;
}

type SkeletonScore = NonNullable<GenerationCaseScore['skeleton']>;

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** { skeletonGapFromTPp } when every case probed the same noise levels, else {}. */
function skeletonGapFromT(skeletons: readonly SkeletonScore[]) {
  const first = skeletons[0]?.fromT;
  if (!first || first.length === 0) return {};
  const ts = first.map((p) => p.t);
  const same = skeletons.every(
    (s) => s.fromT?.length === ts.length && s.fromT.every((p, i) => p.t === ts[i]),
  );
  if (!same) return {};
  return {
    skeletonGapFromTPp: ts.map((t, i) => ({
      t,
      gapPp: 100 * mean(skeletons.map((s) => Math.abs(s.fromT![i].largestShare - s.realLargestShare))),
    })),
  };
}

export function summarizeGeneration(
  rows: readonly GenerationCaseScore[],
  baseline?: GenerationBaseline,
): GenerationSummary {
  if (rows.length === 0) throw new Error('no generation cases to summarize');
  const lungs = rows.map((r) => r.lung).filter((l) => l !== undefined);
  const skeletons = rows.map((r) => r.skeleton).filter((b) => b !== undefined);
  const roundTrips = skeletons.flatMap((b) =>
    b.autoencoderLargestShare === undefined ? [] : [Math.abs(b.autoencoderLargestShare - b.realLargestShare)],
  );
  const summary = {
    cases: rows.length,
    meanW1Hu: mean(rows.map((r) => r.w1Hu)),
    boneGapPp: 100 * mean(rows.map((r) => Math.abs(r.boneFraction - r.realBoneFraction))),
    ...(lungs.length === rows.length
      ? {
          lungGapPp: 100 * mean(lungs.map((l) => Math.abs(l.fraction - l.realFraction))),
          fragmentationGapPp: 100 * mean(lungs.map((l) => Math.abs(l.fragmentation - l.realFragmentation))),
        }
      : {}),
    ...(skeletons.length === rows.length
      ? {
          skeletonGapPp: 100 * mean(skeletons.map((b) => Math.abs(b.largestShare - b.realLargestShare))),
        }
      : {}),
    ...(roundTrips.length === rows.length ? { autoencoderSkeletonGapPp: 100 * mean(roundTrips) } : {}),
    ...skeletonGapFromT(skeletons.length === rows.length ? skeletons : []),
  };
  if (!baseline) return summary;
  const missing = rows.filter((r) => !baseline.has(r.case)).map((r) => r.case);
  if (missing.length > 0) throw new Error(`baseline has no W1 for: ${missing.join('; ')}`);
  let worstRatio = -Infinity;
  let worstCase = '';
  let lower = 0;
  for (const r of rows) {
    const b = baseline.get(r.case)!;
    if (r.w1Hu < b) lower++;
    if (r.w1Hu / b > worstRatio) {
      worstRatio = r.w1Hu / b;
      worstCase = r.case;
    }
  }
  return {
    ...summary,
    baseline: { meanW1Hu: mean(rows.map((r) => baseline.get(r.case)!)), lower, worstRatio, worstCase },
  };
}
