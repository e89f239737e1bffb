/** What the panel components receive, and the job-running hook both use. */
import * as React from 'react';
import type { GeometryLdmConfig } from '../../ohif/config';
import type { ModelManifest } from '../../model/manifest';
import { modelToHuValue } from '../../volume/intensity';
import type { EngineSession } from '../engineSession';
import { IDLE, jobReducer, type JobPhase } from '../jobState';
import type { JobHooks } from '../jobs';
import type { OhifAdapter } from '../ohifAdapter';
import type { Pacs } from '../pacs';
import { describeError, type ErrorContext } from '../panelErrors';
import { SOFT_TISSUE, toRgba } from '../preview';

export interface PanelEnv {
  readonly engine: EngineSession;
  readonly ohif: OhifAdapter;
  /** The PACS over the viewer's DICOMweb root (created on first use). */
  pacs(): Pacs;
  readonly config: GeometryLdmConfig;
  readonly now?: () => number;
}

export interface JobControl {
  readonly phase: JobPhase;
  readonly cancelling: boolean;
  /** Runs `fn` as the panel's job; resolves to its result, or null when it failed or was cancelled. */
  run<T>(fn: (hooks: JobHooks) => Promise<T>, context?: ErrorContext): Promise<T | null>;
  cancel(): void;
  reset(): void;
}

export function useJob(env: PanelEnv): JobControl {
  const [phase, dispatch] = React.useReducer(jobReducer, IDLE);
  const [cancelling, setCancelling] = React.useState(false);
  const controller = React.useRef<AbortController | null>(null);
  const now = env.now ?? (() => Date.now());
  React.useEffect(() => () => controller.current?.abort(), []);

  const run = React.useCallback(
    async <T>(fn: (hooks: JobHooks) => Promise<T>, context: ErrorContext = 'run'): Promise<T | null> => {
      const ac = new AbortController();
      controller.current = ac;
      setCancelling(false);
      dispatch({ type: 'prepare', message: 'Starting', at: now() });
      try {
        const result = await fn({
          signal: ac.signal,
          onPrepare: (message) => dispatch({ type: 'prepare', message, at: now() }),
          onProgress: (event) => dispatch({ type: 'progress', event, at: now() }),
        });
        if (ac.signal.aborted) {
          dispatch({ type: 'cancelled' });
          return null;
        }
        dispatch({ type: 'done', at: now() });
        return result;
      } catch (e) {
        const notice = ac.signal.aborted
          ? describeError({ code: 'cancelled' }, context)
          : describeError(e, context);
        if (notice.kind === 'cancelled') {
          dispatch({ type: 'cancelled' });
        } else {
          dispatch({ type: 'failed', title: notice.title, message: notice.message });
          env.ohif.notify({ title: notice.title, message: notice.message, type: 'error' });
        }
        return null;
      } finally {
        if (controller.current === ac) controller.current = null;
        setCancelling(false);
      }
    },
    [env],
  );

  return {
    phase,
    cancelling,
    run,
    cancel: () => {
      if (controller.current) {
        setCancelling(true);
        controller.current.abort();
      }
    },
    reset: () => dispatch({ type: 'reset' }),
  };
}

/** Progress previews are in the model's intensity: map to HU, then a soft-tissue window. */
export function previewToRgba(manifest: ModelManifest | null): (data: Float32Array) => Uint8ClampedArray {
  return (data) => {
    if (!manifest) return toRgba(data, { center: 0.5, width: 1 });
    const p = manifest.intensity;
    const hu = new Float32Array(data.length);
    for (let q = 0; q < data.length; q++) hu[q] = modelToHuValue(data[q], p);
    return toRgba(hu, SOFT_TISSUE);
  };
}

/** Same-origin default when the data source does not say where DICOMweb lives. */
export function defaultDicomWebRoot(): string {
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin ?? '';
  return `${origin}/dicom-web`;
}
