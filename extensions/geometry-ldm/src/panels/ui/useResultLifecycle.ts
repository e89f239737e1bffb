/**
 * A super-resolution result's life in the viewer and the PACS: the unsaved copy shown next to
 * the source (from memory), Save (the run's series are built once with fixed UIDs, so Save after
 * a failed Save completes them), and the stored series replacing the unsaved copy.
 */
import * as React from 'react';
import type { DerivedSeriesResult, PreparedDerivedSeries } from '../../dicom/writeDerivedSeries';
import { prepareSuperResolutionSave, saveSuperResolution, type SuperResolveRun } from '../jobs';
import { describeError } from '../panelErrors';
import { showNextToSource, showUnsavedResult, type ShownSeries, type UnsavedResult } from '../viewerResult';
import type { PanelEnv } from './panelEnv';

export type SaveState =
  | { kind: 'idle' }
  | { kind: 'saving'; message: string }
  | { kind: 'saved'; written: DerivedSeriesResult; resultUid: string | null; stdUid: string | null }
  | { kind: 'error'; message: string };

/** The unsaved result in the viewer (before saving). */
export type ViewState =
  | { kind: 'none' }
  | { kind: 'loading' }
  | { kind: 'shown'; unsaved: UnsavedResult }
  | { kind: 'error'; message: string };

type ShownRun = SuperResolveRun & { displaySetUid: string };

export interface ResultLifecycle {
  readonly view: ViewState;
  readonly save: SaveState;
  /** What the viewports show of this result: the stored series once saved, else the unsaved copy. */
  readonly shown: ShownSeries | null;
  resetSave(): void;
  showUnsaved(next: ShownRun, overlay: boolean): Promise<void>;
  show(shown: ShownSeries | null, withOverlay: boolean): Promise<void>;
  saveRun(saveStd: boolean, overlay: boolean): Promise<void>;
}

export function useResultLifecycle(env: PanelEnv, run: ShownRun | null): ResultLifecycle {
  const [save, setSave] = React.useState<SaveState>({ kind: 'idle' });
  const [view, setView] = React.useState<ViewState>({ kind: 'none' });
  // the unsaved copy the viewer shows now (released when replaced or once the stored copy is shown)
  const unsavedRef = React.useRef<UnsavedResult | null>(null);
  // the run's series as built for the PACS (UIDs fixed): Save after a failed Save completes them
  const preparedRef = React.useRef<{ run: SuperResolveRun; prepared: PreparedDerivedSeries } | null>(null);

  /** The new result next to the source, from memory (nothing stored); replaces an earlier unsaved one. */
  const showUnsaved = async (next: SuperResolveRun & { displaySetUid: string }, overlay: boolean) => {
    setView({ kind: 'loading' });
    try {
      const unsaved = await showUnsavedResult(env.ohif, next, overlay);
      void unsavedRef.current?.release();
      unsavedRef.current = unsaved;
      setView({ kind: 'shown', unsaved });
    } catch (e) {
      const message = `The result is in the panel, but the viewer could not show it: ${(e as Error).message}`;
      env.ohif.notify({ title: 'Could not show the result', message, type: 'warning' });
      setView({ kind: 'error', message });
    }
  };

  const releaseUnsaved = async () => {
    const unsaved = unsavedRef.current;
    unsavedRef.current = null;
    setView({ kind: 'none' });
    await unsaved?.release();
  };

  const show = async (shown: ShownSeries | null, withOverlay: boolean) => {
    if (!run || !shown) return;
    await showNextToSource(env.ohif, run, shown, withOverlay);
  };

  const saveRun = async (saveStd: boolean, overlay: boolean) => {
    if (!run) return;
    setSave({ kind: 'saving', message: 'Storing in the PACS' });
    let written: DerivedSeriesResult;
    try {
      const pacs = env.pacs();
      if (preparedRef.current?.run !== run)
        preparedRef.current = { run, prepared: await prepareSuperResolutionSave(pacs, run) };
      written = await saveSuperResolution(pacs, preparedRef.current.prepared, { saveStd });
    } catch (e) {
      const n = describeError(e, 'save');
      env.ohif.notify({ title: n.title, message: n.message, type: 'error' });
      setSave({ kind: 'error', message: `${n.title}: ${n.message}` });
      return;
    }
    const seriesUids = [
      written.result.seriesInstanceUid,
      ...(written.uncertainty ? [written.uncertainty.seriesInstanceUid] : []),
    ];
    env.ohif.notify({
      title: 'Saved to the PACS',
      message: `Super-resolved series stored (${written.result.sopInstanceUids.length} images${written.uncertainty ? ', plus the uncertainty map' : ''}).`,
      type: 'success',
    });
    setSave({ kind: 'saving', message: 'Loading the new series into the viewer' });
    try {
      const uids = await env.ohif.loadSeries(run.series.studyInstanceUid, seriesUids);
      const state = { resultUid: uids[0], stdUid: uids[1] ?? null };
      // the stored series replace the unsaved copy in the viewports, then the copy goes
      await show(state, overlay);
      await releaseUnsaved();
      setSave({ kind: 'saved', written, ...state });
    } catch (e) {
      const still = unsavedRef.current ? ' The viewports still show the unsaved copy.' : '';
      const message = `Saved, but the viewer could not show it: ${(e as Error).message}.${still}`;
      env.ohif.notify({ title: 'Could not show the result', message, type: 'warning' });
      setSave({ kind: 'saved', written, resultUid: null, stdUid: null });
    }
  };

  // what the viewports show of this result: the stored series once saved, else the unsaved copy
  const shown: ShownSeries | null =
    save.kind === 'saved' && save.resultUid
      ? { resultUid: save.resultUid, stdUid: save.stdUid }
      : view.kind === 'shown'
        ? view.unsaved
        : null;

  return { view, save, shown, resetSave: () => setSave({ kind: 'idle' }), showUnsaved, show, saveRun };
}
