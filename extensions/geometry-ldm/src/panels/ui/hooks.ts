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
import type { PageMemory } from '../pageMemory';
import { SOFT_TISSUE, toRgba } from '../preview';

export interface PanelEnv {
  readonly engine: EngineSession;
  readonly ohif: OhifAdapter;
  /** The PACS over the viewer's DICOMweb root (created on first use). */
  pacs(): Pacs;
  readonly config: GeometryLdmConfig;
  readonly now?: () => number;
  /** Settings and running-job markers kept across a reload (the tab's sessionStorage). */
  readonly memory?: PageMemory;
}

/**
 * The browser's own "leave this page?" prompt while `active` (a job runs, or a result is not
 * saved): a reload or a closed tab would lose it without a word.
 */
export function useLeaveGuard(active: boolean): void {
  React.useEffect(() => {
    const w = globalThis as unknown as {
      addEventListener?: (t: string, l: (e: Event) => void) => void;
      removeEventListener?: (t: string, l: (e: Event) => void) => void;
    };
    if (!active || typeof w.addEventListener !== 'function') return undefined;
    const onBeforeUnload = (e: Event): void => {
      e.preventDefault();
      (e as unknown as { returnValue: string }).returnValue = ''; // older browsers need a value
    };
    w.addEventListener('beforeunload', onBeforeUnload);
    return () => w.removeEventListener?.('beforeunload', onBeforeUnload);
  }, [active]);
}

/** True when `value` has every key of `template` with a value of the same type (restored settings). */
export function sameShape(value: unknown, template: unknown): boolean {
  if (template === null || typeof template !== 'object') return typeof value === typeof template;
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(template))
    return (
      Array.isArray(value) &&
      value.length === template.length &&
      value.every((v, i) => sameShape(v, template[i]))
    );
  return Object.entries(template).every(([k, t]) => sameShape((value as Record<string, unknown>)[k], t));
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
