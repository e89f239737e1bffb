import type { ProgressEvent } from '../inference/progress';
import {
  IDLE,
  isActive,
  jobReducer,
  progressFraction,
  statusLine,
  type JobAction,
  type JobPhase,
} from './jobState';

const ev = (e: Partial<ProgressEvent>): ProgressEvent => ({
  stage: 'denoise',
  step: 1,
  total: 10,
  etaSeconds: 5,
  ...e,
});

function run(actions: JobAction[], from: JobPhase = IDLE): JobPhase {
  return actions.reduce(jobReducer, from);
}

describe('job lifecycle', () => {
  it('idle -> preparing -> running -> done, with elapsed time', () => {
    const p = run([
      { type: 'prepare', message: 'Reading the series', at: 1000 },
      { type: 'progress', event: ev({ stage: 'encode', step: 1, total: 12 }), at: 1500 },
      { type: 'progress', event: ev({ step: 6, total: 12, sample: 0, samples: 2 }), at: 2000 },
    ]);
    expect(p.kind).toBe('running');
    expect(progressFraction(p)).toBeCloseTo(0.5, 12);
    expect(statusLine(p)).toBe('Denoising — step 6 of 12, sample 1 of 2');
    const done = jobReducer(p, { type: 'done', at: 4500 });
    expect(done).toEqual({ kind: 'done', seconds: 3.5 });
    expect(progressFraction(done)).toBe(1);
  });

  it('keeps the last preview until a newer one arrives', () => {
    const preview = { width: 2, height: 1, data: new Float32Array([0, 1]) };
    const p = run([
      { type: 'prepare', message: 'x', at: 0 },
      { type: 'progress', event: ev({ stage: 'decode', preview }), at: 1 },
      { type: 'progress', event: ev({ step: 7 }), at: 2 },
    ]);
    expect(p.kind === 'running' && p.preview).toBe(preview);
  });

  it('cancel and failure end an active job; late events do not revive it', () => {
    const running = run([
      { type: 'prepare', message: 'x', at: 0 },
      { type: 'progress', event: ev({}), at: 1 },
    ]);
    const cancelled = jobReducer(running, { type: 'cancelled' });
    expect(cancelled).toEqual({ kind: 'cancelled' });
    expect(jobReducer(cancelled, { type: 'progress', event: ev({ step: 9 }), at: 2 })).toBe(cancelled);
    expect(jobReducer(cancelled, { type: 'done', at: 3 })).toBe(cancelled);
    const failed = jobReducer(running, { type: 'failed', title: 'Out of memory', message: 'm' });
    expect(failed).toEqual({ kind: 'error', title: 'Out of memory', message: 'm' });
    expect(statusLine(failed)).toBe('Out of memory');
  });

  it('a finished job can start again; reset does not interrupt an active one', () => {
    const again = run([{ type: 'prepare', message: 'again', at: 5 }], { kind: 'cancelled' });
    expect(again).toEqual({ kind: 'preparing', message: 'again', startedAt: 5 });
    expect(isActive(again)).toBe(true);
    expect(jobReducer(again, { type: 'reset' })).toBe(again);
    expect(jobReducer({ kind: 'done', seconds: 1 }, { type: 'reset' })).toBe(IDLE);
    expect(jobReducer(IDLE, { type: 'done', at: 1 })).toBe(IDLE);
    expect(progressFraction(IDLE)).toBeNull();
  });
});
