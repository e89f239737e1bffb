/** The panels' React hooks: running a job, the leave-page guard, the engine snapshot, prior costs. */
import * as React from 'react';
import type { EngineSnapshot } from '../engineSession';
import { IDLE, jobReducer, type JobPhase } from '../jobState';
import type { JobHooks } from '../jobs';
import { describeError, type ErrorContext } from '../panelErrors';
import { priorCosts, type PriorCosts } from '../priorCosts';
import type { PanelEnv } from './panelEnv';

/**
 * OHIF's header button back to the study list (`data-cy` of OHIF 3.x's Header, the hook its own
 * tests use). Leaving the mode through it is an in-app route change: no beforeunload, and OHIF's
 * router gives an extension no way to block it, so the click is intercepted before React sees it.
 */
export const RETURN_TO_STUDY_LIST = '[data-cy="return-to-work-list"]';

/** What each active guard would lose, by guard; one capture listener serves them all. */
const activeGuards = new Map<symbol, string>();
let onReturnClick: ((e: Event) => void) | null = null;

function syncReturnListener(): void {
  const doc = (globalThis as { document?: Document }).document;
  if (!doc) return;
  if (activeGuards.size > 0 && !onReturnClick) {
    onReturnClick = (e: Event) => {
      const target = e.target as Element | null;
      if (!target?.closest?.(RETURN_TO_STUDY_LIST)) return;
      const what = [...new Set(activeGuards.values())].join(' and ');
      if (globalThis.confirm(`Leave the viewer? ${what} will be lost.`)) return;
      e.preventDefault();
      e.stopImmediatePropagation();
    };
    doc.addEventListener('click', onReturnClick, true);
  } else if (activeGuards.size === 0 && onReturnClick) {
    doc.removeEventListener('click', onReturnClick, true);
    onReturnClick = null;
  }
}

/**
 * While `active` (a job runs, or a result is not saved): the browser's own "leave this page?"
 * prompt on a reload or a closed tab, and a confirmation before OHIF's return-to-study-list
 * button leaves the mode. `what` names what would be lost ("The generation in progress or its
 * unsaved result").
 */
export function useLeaveGuard(active: boolean, what: string): void {
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
    const key = Symbol('leave-guard');
    w.addEventListener('beforeunload', onBeforeUnload);
    activeGuards.set(key, what);
    syncReturnListener();
    return () => {
      w.removeEventListener?.('beforeunload', onBeforeUnload);
      activeGuards.delete(key);
      syncReturnListener();
    };
  }, [active, what]);
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
