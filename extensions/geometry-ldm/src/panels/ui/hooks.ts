/** The panels' React hooks: running a job, the leave-page guard, the engine snapshot, prior costs. */
import * as React from 'react';
import type { EngineSnapshot } from '../engineSession';
import { IDLE, jobReducer, type JobPhase } from '../jobState';
import type { JobHooks } from '../jobs';
import { describeError, type ErrorContext } from '../panelErrors';
import { priorCosts, type PriorCosts } from '../priorCosts';
import type { PanelEnv } from './panelEnv';

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
  React.useEffect(() => () => controller.current?.abort(), []);

  const run = React.useCallback(
    async <T>(fn: (hooks: JobHooks) => Promise<T>, context: ErrorContext = 'run'): Promise<T | null> => {
      const now = env.now ?? (() => Date.now());
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

/** The prior time estimate for the engine's backend (the model's recorded costs), until measured. */
export function usePriorCosts(s: EngineSnapshot): PriorCosts | null {
  const { manifest, backend, webgpu } = s;
  return React.useMemo(
    () => (manifest && backend ? priorCosts(manifest, backend, webgpu) : null),
    [manifest, backend, webgpu],
  );
}

/** Subscribes a component to the shared engine session. */
export function useEngineSnapshot(session: {
  subscribe: (l: () => void) => () => void;
  getSnapshot: () => EngineSnapshot;
}): EngineSnapshot {
  return React.useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);
}
