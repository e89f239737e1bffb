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
 * Counts work units per stage and turns them into events with an ETA.
 * The time between two ticks is charged to the later tick's stage (so preview decodes made during
 * sampling are charged to the denoising steps they accompany). A stage with no finished unit yet
 * uses the seconds per unit the pipeline expects for it (`expected`, e.g. a projection timed on
 * the same grid before the tracker starts), else borrows the rate of the other image-space stage
 * (encoder for the decoder and back: the same grid and tiles) when that is known, else the mean
 * rate of everything so far. Expected rates keep the ETA from jumping when a stage whose units
 * cost very different time (a whole projection vs one batch of planes) starts.
 */
export class ProgressTracker {
  private done = 0;
  private readonly total: number;
  private readonly units: Record<WorkStage, number> = {
    refine: 0,
    project: 0,
    encode: 0,
    denoise: 0,
    decode: 0,
  };
  private readonly seconds: Record<WorkStage, number> = {
    refine: 0,
    project: 0,
    encode: 0,
    denoise: 0,
    decode: 0,
  };
  private readonly started: number;
  private last: number;
  constructor(
    private readonly plan: WorkPlan,
    private readonly listener: ProgressListener | undefined,
    private readonly now: () => number = () => performance.now(),
    /** Seconds per unit expected for a stage before its first unit finishes. */
    private readonly expected: Readonly<Partial<Record<WorkStage, number>>> = {},
  ) {
    this.total = WORK_STAGES.reduce((a, s) => a + (plan[s] ?? 0), 0);
    this.started = now();
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

  emit(stage: Stage): void {
    this.listener?.({ stage, step: this.done, total: this.total, etaSeconds: null });
  }

  private eta(t: number): number | null {
    if (this.done <= 0) return null;
    const overall = (t - this.started) / 1000 / this.done;
    const rate = (s: WorkStage): number | null =>
      this.units[s] > 0 ? this.seconds[s] / this.units[s] : null;
    let eta = 0;
    for (const s of WORK_STAGES) {
      const left = Math.max(0, (this.plan[s] ?? 0) - this.units[s]);
      if (left === 0) continue;
      const twin = s === 'decode' ? 'encode' : s === 'encode' ? 'decode' : null;
      eta += left * (rate(s) ?? this.expected[s] ?? (twin ? rate(twin) : null) ?? overall);
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
