/** Progress events shared by both pipelines (and carried across the worker boundary). */
export type Stage = 'prepare' | 'encode' | 'denoise' | 'decode' | 'finish';

export interface ProgressEvent {
  readonly stage: Stage;
  /** Model calls done so far in the whole job, and their planned total. */
  readonly step: number;
  readonly total: number;
  /** Seconds left, estimated from the mean time per model call so far (null before the first). */
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

/** Counts model calls and turns them into events with an ETA. */
export class ProgressTracker {
  private done = 0;
  private readonly started: number;
  constructor(
    private readonly total: number,
    private readonly listener: ProgressListener | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  tick(
    stage: Stage,
    extra: Partial<Omit<ProgressEvent, 'stage' | 'step' | 'total' | 'etaSeconds'>> = {},
  ): void {
    this.done += 1;
    if (!this.listener) return;
    const elapsed = (this.now() - this.started) / 1000;
    const eta = this.done > 0 ? (elapsed / this.done) * Math.max(0, this.total - this.done) : null;
    this.listener({ stage, step: this.done, total: this.total, etaSeconds: eta, ...extra });
  }

  emit(stage: Stage): void {
    this.listener?.({ stage, step: this.done, total: this.total, etaSeconds: null });
  }
}
