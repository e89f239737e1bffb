/**
 * The lifecycle of one panel job, as a pure reducer:
 *
 *   idle -> preparing (reading the series, loading the model)
 *        -> running (engine progress: stage, step/total, ETA, preview)
 *        -> done | cancelled | error
 *
 * A finished job (done, cancelled, error) may start again. Events that do not
 * belong to the current phase (a late progress message after a cancel, say)
 * are ignored rather than resurrecting the job.
 */
import type { ProgressEvent, Stage } from '../inference/progress';

export interface PreviewImage {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

export type JobPhase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'preparing'; readonly message: string; readonly startedAt: number }
  | {
      readonly kind: 'running';
      readonly startedAt: number;
      readonly stage: Stage;
      readonly step: number;
      readonly total: number;
      readonly etaSeconds: number | null;
      readonly sample?: number;
      readonly samples?: number;
      readonly preview?: PreviewImage;
    }
  | { readonly kind: 'done'; readonly seconds: number }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'error'; readonly title: string; readonly message: string };

export type JobAction =
  | { readonly type: 'prepare'; readonly message: string; readonly at: number }
  | { readonly type: 'progress'; readonly event: ProgressEvent; readonly at: number }
  | { readonly type: 'done'; readonly at: number }
  | { readonly type: 'cancelled' }
  | { readonly type: 'failed'; readonly title: string; readonly message: string }
  | { readonly type: 'reset' };

export const IDLE: JobPhase = { kind: 'idle' };

export function isActive(phase: JobPhase): boolean {
  return phase.kind === 'preparing' || phase.kind === 'running';
}

export function jobReducer(phase: JobPhase, action: JobAction): JobPhase {
  switch (action.type) {
    case 'prepare':
      if (phase.kind === 'running') return phase;
      return {
        kind: 'preparing',
        message: action.message,
        startedAt: phase.kind === 'preparing' ? phase.startedAt : action.at,
      };
    case 'progress': {
      if (!isActive(phase)) return phase;
      const e = action.event;
      const startedAt = (phase as { startedAt: number }).startedAt;
      const previous = phase.kind === 'running' ? phase : undefined;
      return {
        kind: 'running',
        startedAt,
        stage: e.stage,
        step: e.step,
        total: e.total,
        etaSeconds: e.etaSeconds,
        ...(e.sample !== undefined ? { sample: e.sample } : {}),
        ...(e.samples !== undefined ? { samples: e.samples } : {}),
        // the latest preview stays until a newer one arrives
        ...(e.preview ? { preview: e.preview } : previous?.preview ? { preview: previous.preview } : {}),
      };
    }
    case 'done':
      if (!isActive(phase)) return phase;
      return { kind: 'done', seconds: (action.at - (phase as { startedAt: number }).startedAt) / 1000 };
    case 'cancelled':
      return isActive(phase) ? { kind: 'cancelled' } : phase;
    case 'failed':
      return isActive(phase) ? { kind: 'error', title: action.title, message: action.message } : phase;
    case 'reset':
      return isActive(phase) ? phase : IDLE;
  }
}

const STAGE_LABEL: Record<Stage, string> = {
  prepare: 'Preparing',
  refine: 'Refining planes',
  project: 'Projecting onto the acquired slices',
  encode: 'Encoding',
  denoise: 'Denoising',
  decode: 'Decoding',
  finish: 'Finishing',
};

/** Fraction done in [0, 1] (null while there is nothing to measure). */
export function progressFraction(phase: JobPhase): number | null {
  if (phase.kind === 'done') return 1;
  if (phase.kind !== 'running' || phase.total <= 0) return null;
  return Math.min(1, Math.max(0, phase.step / phase.total));
}

/** One line for the status area, e.g. "Denoising — step 12 of 40, sample 2 of 4". */
export function statusLine(phase: JobPhase): string {
  switch (phase.kind) {
    case 'idle':
      return 'Ready';
    case 'preparing':
      return phase.message;
    case 'running': {
      const parts = [`${STAGE_LABEL[phase.stage]} — step ${phase.step} of ${phase.total}`];
      if (phase.samples !== undefined && phase.samples > 1 && phase.sample !== undefined) {
        parts.push(`sample ${Math.min(phase.sample + 1, phase.samples)} of ${phase.samples}`);
      }
      return parts.join(', ');
    }
    case 'done':
      return 'Done';
    case 'cancelled':
      return 'Cancelled';
    case 'error':
      return phase.title;
  }
}
