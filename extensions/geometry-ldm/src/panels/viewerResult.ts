/**
 * The super-resolution result in OHIF's viewports, before and after saving
 * (no UI: the panel calls these and renders what they return).
 *
 * Before saving: the derived series and its std map are built exactly as Save
 * would build them (buildDerivedSeries: same attributes, provenance and
 * "NOT FOR DIAGNOSTIC USE" markers; own UIDs, "UNSAVED" in the series
 * description), shown from memory (OhifAdapter.addLocalSeries) and laid out
 * source | result with synchronised cameras and the std map as a colour
 * overlay. Nothing is written to the PACS.
 *
 * Saving stores a fresh build (new UIDs, SeriesNumbers checked against the
 * PACS) as before; once the stored series are shown, the in-memory ones are
 * released.
 */
import { buildDerivedSeries } from '../dicom/writeDerivedSeries';
import type { LocalSeries } from '../ohif/localSeries';
import type { SuperResolveRun } from './jobs';
import type { OhifAdapter } from './ohifAdapter';
import { modelInfo } from './pacs';
import { percentileWindow, type Window } from './preview';
import { targetLabel } from '../planning/superResolvePlan';
import { methodText, MODE_TAG } from '../inference/methodText';

/** Marks the unsaved copy's series description ("AI super-resolution UNSAVED CNN x4 z - NOT FOR DIAGNOSTIC USE"). */
export const UNSAVED_LABEL = 'UNSAVED';

export interface ShownSeries {
  readonly resultUid: string;
  readonly stdUid: string | null;
}

export interface UnsavedResult extends ShownSeries {
  readonly resultSeriesInstanceUid: string;
  readonly stdSeriesInstanceUid: string | null;
  /** Takes the in-memory series out of the viewer once no viewport shows them (idempotent). */
  release(): Promise<void>;
}

/** The display window of the std overlay for a run. */
export function stdWindowOf(run: SuperResolveRun): Window {
  return percentileWindow(run.result.std.data);
}

/** SeriesNumbers the viewer already shows for the study (the unsaved copy avoids them). */
function seriesNumbersInViewer(ohif: OhifAdapter, studyInstanceUid: string): number[] {
  return ohif
    .listDisplaySets()
    .filter((d) => d.StudyInstanceUID === studyInstanceUid)
    .map((d) => Number(d.SeriesNumber))
    .filter((n) => Number.isInteger(n));
}

/** Builds the result (and std map) as in-memory DICOM series and puts them into the viewer, unsaved. */
export async function addUnsavedResult(ohif: OhifAdapter, run: SuperResolveRun): Promise<UnsavedResult> {
  const built = buildDerivedSeries({
    source: run.instances,
    result: run.result.mean,
    // the classical mode has no uncertainty
    ...(run.result.settings.mode !== 'classical' ? { uncertainty: run.result.std } : {}),
    model: modelInfo(run.model, 'super-resolution'),
    method: methodText(run.result),
    label: `${UNSAVED_LABEL} ${MODE_TAG[run.result.settings.mode]} ${targetLabel(run.form.target)}`,
    existingSeriesNumbers: seriesNumbersInViewer(ohif, run.series.studyInstanceUid),
  });
  const added: LocalSeries[] = [];
  try {
    added.push(await ohif.addLocalSeries(built.result.instances));
    if (built.uncertainty) added.push(await ohif.addLocalSeries(built.uncertainty.instances));
  } catch (e) {
    await Promise.all(added.map((s) => s.release()));
    throw e;
  }
  const [result, std] = added;
  return {
    resultUid: result.displaySetInstanceUID,
    stdUid: std?.displaySetInstanceUID ?? null,
    resultSeriesInstanceUid: result.seriesInstanceUid,
    stdSeriesInstanceUid: std?.seriesInstanceUid ?? null,
    async release() {
      await Promise.all(added.map((s) => s.release()));
    },
  };
}

/** Source | result side by side (synchronised), the std map fused over the result when wanted and present. */
export function showNextToSource(
  ohif: OhifAdapter,
  run: SuperResolveRun & { readonly displaySetUid: string },
  shown: ShownSeries,
  withOverlay: boolean,
): Promise<void> {
  return ohif.showSideBySide({
    sourceUid: run.displaySetUid,
    resultUid: shown.resultUid,
    ...(withOverlay && shown.stdUid ? { stdUid: shown.stdUid, stdWindow: stdWindowOf(run) } : {}),
  });
}

/** The unsaved result next to the source: built, put into the viewer and laid out. */
export async function showUnsavedResult(
  ohif: OhifAdapter,
  run: SuperResolveRun & { readonly displaySetUid: string },
  withOverlay: boolean,
): Promise<UnsavedResult> {
  const unsaved = await addUnsavedResult(ohif, run);
  try {
    await showNextToSource(ohif, run, unsaved, withOverlay);
  } catch (e) {
    await unsaved.release();
    throw e;
  }
  return unsaved;
}
