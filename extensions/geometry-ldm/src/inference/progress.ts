/** Progress events shared by both pipelines (and carried across the worker boundary). */
export type Stage = 'prepare' | 'refine' | 'project' | 'encode' | 'denoise' | 'decode' | 'finish';

export interface ProgressEvent {
  readonly stage: Stage;
  /**
   * Work done so far in the whole job, and its planned total, in per-sample model calls: a
   * call over a batch of B samples counts B, a tiled encoder/decoder pass counts each tile.
   * The total does not depend on the batch size; optional preview decodes are not counted.
   */
  readonly step: number;
  readonly total: number;
  /**
   * Seconds left: the remaining work of each stage times that stage's mean seconds per unit so
   * far (see ProgressTracker). Null before the first unit of work.
   */
  readonly etaSeconds: number | null;
  /** Which sample (0-based) of how many, for multi-sample jobs. */
  readonly sample?: number;
  readonly samples?: number;
  /** Optional downsampled mid-slice of the current estimate (model intensity), row-major [height][width]. */
  readonly preview?: PreviewSlice;
}

/** A downsampled mid-slice (model intensity), row-major [height][width]. */
export interface PreviewSlice {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

export type ProgressListener = (event: ProgressEvent) => void;

/** The stages that do model work, and their planned units (per-sample model calls). */
export type WorkStage = 'refine' | 'project' | 'encode' | 'denoise' | 'decode';
const WORK_STAGES: readonly WorkStage[] = ['refine', 'project', 'encode', 'denoise', 'decode'];
export type WorkPlan = Readonly<Partial<Record<WorkStage, number>>>;

/**
 * What a caller expects each stage of a job to take in all, in seconds (e.g. the panel's
 * calibrated estimate); `preview`: all the preview decodes made while sampling.
 */
export type ExpectedSeconds = Readonly<Partial<Record<WorkStage | 'preview', number>>>;

export interface TrackerOptions {
  readonly now?: () => number;
  /** Seconds per unit expected for a stage (per preview for 'preview') before it is timed. */
  readonly expectedPerUnit?: ExpectedSeconds;
  /** Preview decodes planned while sampling (not work units), and the decode units each is worth. */
  readonly previews?: { readonly count: number; readonly decodeUnits: number };
}

/** Per-unit expectations from whole-stage ones (ExpectedSeconds) under a plan. */
export function expectedPerUnit(
  expected: ExpectedSeconds | undefined,
  plan: WorkPlan,
  previews = 0,
): ExpectedSeconds {
  const out: Partial<Record<WorkStage | 'preview', number>> = {};
  if (!expected) return out;
  for (const s of WORK_STAGES) {
    const v = expected[s];
    if (v !== undefined && Number.isFinite(v) && v >= 0 && (plan[s] ?? 0) > 0) out[s] = v / plan[s]!;
  }
  const p = expected.preview;
  if (p !== undefined && Number.isFinite(p) && p >= 0 && previews > 0) out.preview = p / previews;
  return out;
}

function zeroPerStage(): Record<WorkStage | 'preview', number> {
  return { refine: 0, project: 0, encode: 0, denoise: 0, decode: 0, preview: 0 };
}

/**
 * Counts work units per stage and turns them into events with an ETA: the remaining units of
 * each stage times that stage's seconds per unit so far. Preview decodes made while sampling are
 * timed apart (`preview`), so a denoising step's rate is the UNet's alone and the previews still
 * to come are added at their own rate. A stage with no finished unit yet uses, in order: the
 * seconds per unit expected for it (`expectedPerUnit`: a projection timed on the same grid, or
 * the caller's estimate), for the decoder the rate of a preview decode (the same call on one
 * sample), the rate of the other image-space stage (encoder for the decoder and back: the same
 * grid and tiles), else the mean rate of everything so far. Without these the ETA would jump
 * when a stage whose units cost very different time starts.
 */
export class ProgressTracker {
  private done = 0;
  private readonly total: number;
  private readonly units = zeroPerStage();
  private readonly seconds = zeroPerStage();
  private readonly started: number;
  private last: number;
  private readonly now: () => number;
  private readonly expected: ExpectedSeconds;
  private readonly previews: { readonly count: number; readonly decodeUnits: number };
  constructor(
    private readonly plan: WorkPlan,
    private readonly listener: ProgressListener | undefined,
    options: TrackerOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.expected = options.expectedPerUnit ?? {};
    this.previews = options.previews ?? { count: 0, decodeUnits: 1 };
    this.total = WORK_STAGES.reduce((a, s) => a + (plan[s] ?? 0), 0);
    this.started = this.now();
    this.last = this.started;
  }

  /** `units` of work of `stage` finished (default 1). */
  tick(
    stage: WorkStage,
    extra: Partial<Omit<ProgressEvent, 'stage' | 'step' | 'total' | 'etaSeconds'>> = {},
    units = 1,
  ): void {
    const t = this.now();
    this.done += units;
    this.units[stage] += units;
    this.seconds[stage] += (t - this.last) / 1000;
    this.last = t;
    if (!this.listener) return;
    this.listener({ stage, step: this.done, total: this.total, etaSeconds: this.eta(t), ...extra });
  }

  /** Runs one preview decode, timed apart from the work units (see the class comment). */
  async preview<T>(render: () => Promise<T>): Promise<T> {
    const t0 = this.now();
    try {
      return await render();
    } finally {
      const dt = this.now() - t0;
      this.units.preview += 1;
      this.seconds.preview += dt / 1000;
      this.last += dt;
    }
  }

  emit(stage: Stage): void {
    this.listener?.({ stage, step: this.done, total: this.total, etaSeconds: null });
  }

  private rate(s: WorkStage | 'preview'): number | null {
    return this.units[s] > 0 ? this.seconds[s] / this.units[s] : null;
  }

  private eta(t: number): number | null {
    if (this.done <= 0) return null;
    const overall = (t - this.started) / 1000 / this.done;
    const previewRate = this.rate('preview');
    const fromPreview = previewRate === null ? null : previewRate / Math.max(1, this.previews.decodeUnits);
    let eta = 0;
    for (const s of WORK_STAGES) {
      const left = Math.max(0, (this.plan[s] ?? 0) - this.units[s]);
      if (left === 0) continue;
      const twin = s === 'decode' ? 'encode' : s === 'encode' ? 'decode' : null;
      eta +=
        left *
        (this.rate(s) ??
          this.expected[s] ??
          (s === 'decode' ? fromPreview : null) ??
          (twin ? this.rate(twin) : null) ??
          overall);
    }
    const previewsLeft = Math.max(0, this.previews.count - this.units.preview);
    if (previewsLeft > 0) {
      const decodeRate = this.rate('decode') ?? this.expected.decode;
      eta +=
        previewsLeft *
        (previewRate ??
          this.expected.preview ??
          (decodeRate !== undefined && decodeRate !== null ? decodeRate * this.previews.decodeUnits : 0));
    }
    return eta;
  }
}

/**
 * Progress of one encoder/decoder pass worth `units` work units: `onTile` ticks the units of each
 * finished call but the last as they finish; `finish` ticks the rest, with `extra` (e.g. a preview).
 */
export function passProgress(
  tracker: ProgressTracker,
  stage: WorkStage,
  units: number,
  base: Partial<Omit<ProgressEvent, 'stage' | 'step' | 'total' | 'etaSeconds'>> = {},
): {
  onTile: (done: number, total: number) => void;
  finish: (extra?: Partial<Omit<ProgressEvent, 'stage' | 'step' | 'total' | 'etaSeconds'>>) => void;
} {
  let ticked = 0;
  return {
    onTile: (done, total) => {
      if (done >= total) return;
      const upTo = Math.floor((units * done) / total);
      if (upTo <= ticked) return;
      tracker.tick(stage, base, upTo - ticked);
      ticked = upTo;
    },
    finish: (extra = {}) => tracker.tick(stage, { ...base, ...extra }, units - ticked),
  };
}
