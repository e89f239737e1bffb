/**
 * Super-resolve panel: series -> target -> settings -> estimate -> run with
 * progress and cancel -> the result next to the source in the viewer at once
 * (synchronised, std as colour overlay; from memory, marked unsaved) and in the
 * panel -> save to PACS, after which the stored series replace the unsaved
 * copy. All logic lives in the controller modules; this file only wires state
 * to controls.
 */
import * as React from 'react';
import type { Vec3 } from '../../geometry/conventions';
import type { TilingPolicy } from '../../inference/tiling';
import type { CropBox } from '../../volume/pad';
import type { ModelManifest } from '../../model/manifest';
import { formatDims, formatSpacing } from '../../planning/format';
import { isActive } from '../jobState';
import { markJobEnded, markJobStarted, MEMORY_KEYS, takeLostJob } from '../pageMemory';
import { runSuperResolution, type SuperResolveRun } from '../jobs';
import { DicomError } from '../../dicom/errors';
import { describeError } from '../panelErrors';
import { HOT, percentileWindow, SOFT_TISSUE } from '../preview';
import type { SeriesGrid } from '../../planning/seriesGrid';
import { hasGrid, seriesInfo, type SeriesInfo } from '../seriesInfo';
import {
  availableModes,
  defaultSamples,
  defaultSettings,
  estimateSuperResolution,
  fitRegion,
  planSuperResolution,
  TARGET_PRESETS,
  wholeRegion,
  type SuperResolveSettings,
  type TargetChoice,
} from '../../planning/superResolvePlan';
import { useResultLifecycle } from './useResultLifecycle';
import { ResultViewer, type ViewerLayer } from './ResultViewer';
import { superResolutionDefaults, type SuperResolutionMode } from '../../model/manifest';
import { methodText } from '../../inference/methodText';
import { REFINER_BODY_BOX, REFINER_MAX_SAMPLES } from '../../inference/refiner';
import type { SliceModelChoice } from '../../volume/seriesAcquisition';
import type { ClientSuperResolveResult } from '../../worker/engineClient';
import { TilingControl } from './TilingControl';
import { LostJobNotice, PanelStyles } from './notices';
import { CheckField, NumberField, SelectField, Vec3Field } from './fields';
import { EngineBusyHint, PanelHeader, PlanFeedback, ProgressView } from './engineViews';
import { useEngineSnapshot, useJob, useLeaveGuard, usePriorCosts } from './hooks';
import { previewToRgba } from '../preview';
import { sameShape } from '../pageMemory';
import { type PanelEnv } from './panelEnv';

function useDisplaySets(env: PanelEnv): { list: SeriesInfo[]; activeUid: string | null } {
  const read = React.useCallback(
    () => ({
      list: env.ohif.listDisplaySets().map(seriesInfo),
      activeUid: env.ohif.activeDisplaySetUid(),
    }),
    [env],
  );
  const [state, setState] = React.useState(read);
  React.useEffect(() => {
    setState(read());
    return env.ohif.subscribe(() => setState(read()));
  }, [env, read]);
  return state;
}

function regionText(r: CropBox): string {
  return ['columns', 'rows', 'slices']
    .map((n, a) => `${n} ${r.start[a] + 1}–${r.start[a] + r.dims[a]}`)
    .join(', ');
}

export function SuperResolvePanel(props: { readonly env: PanelEnv }): React.ReactElement {
  const { env } = props;
  const snapshot = useEngineSnapshot(env.engine);
  const manifest = snapshot.manifest;
  const { list: all, activeUid: activeShown } = useDisplaySets(env);
  // AI output (results, std maps, synthetic CT) is never a source: it is not even listed
  const list = all.filter((s) => !s.productOutput);
  const hiddenOutputs = all.length - list.length;
  const activeUid = list.some((s) => s.displaySetInstanceUID === activeShown) ? activeShown : null;
  const [chosenUid, setChosenUid] = React.useState<string | null>(null);
  const selectedUid =
    (chosenUid && list.some((s) => s.displaySetInstanceUID === chosenUid) ? chosenUid : null) ??
    activeUid ??
    list.find((s) => s.isCt)?.displaySetInstanceUID ??
    null;
  const info = list.find((s) => s.displaySetInstanceUID === selectedUid) ?? null;
  const grid: SeriesGrid | null = info && hasGrid(info) ? info.grid : null;

  const [presetId, setPresetId] = React.useState('x4-slices');
  const [target, setTarget] = React.useState<TargetChoice>({ kind: 'scale', factors: [1, 1, 4] });
  const [regionState, setRegionState] = React.useState<{ key: string; region: CropBox } | null>(null);
  const [settingsState, setSettings] = React.useState<SuperResolveSettings | null>(null);
  const [tiling, setTiling] = React.useState<TilingPolicy | undefined>(undefined);
  const [run, setRun] = React.useState<(SuperResolveRun & { displaySetUid: string }) | null>(null);
  const [saveStd, setSaveStd] = React.useState(true);
  const [overlay, setOverlay] = React.useState(true);
  const job = useJob(env);
  const { view, save, resetSave, showUnsaved, show, shown, saveRun } = useResultLifecycle(env, run);
  // a job this tab did not finish before a reload (read once)
  const [lostJob, setLostJob] = React.useState(() =>
    env.memory ? takeLostJob(env.memory, 'super-resolve') : null,
  );

  React.useEffect(() => {
    void env.engine.ensureReady().catch(() => undefined);
  }, [env]);
  const settings = settingsState ?? (manifest ? defaultSettings(manifest) : null);

  // A new series (or model) resets the region: whole series if it fits, else the largest centred fit.
  const gridKey =
    grid && manifest ? `${selectedUid}|${grid.dims.join('x')}|${manifest.name}@${manifest.version}` : '';
  // the grid object is rebuilt on every display-set event: its key (and the target) say when the
  // default region really changes, so it is recomputed only then
  const fallback = React.useRef<{ key: string; region: CropBox | null }>({ key: '', region: null });
  const fallbackKey = `${gridKey}|${JSON.stringify(target)}|${settings?.mode ?? ''}`;
  if (fallback.current.key !== fallbackKey)
    fallback.current = {
      key: fallbackKey,
      region: grid && manifest && settings ? defaultRegion(grid, target, manifest, settings.mode) : null,
    };
  const fallbackRegion = fallback.current.region;
  const region = regionState && regionState.key === gridKey ? regionState.region : fallbackRegion;
  const setRegion = (r: CropBox) => setRegionState({ key: gridKey, region: r });

  const form = grid && region && settings ? { region, target, settings } : null;

  // Settings survive a reload (per study, this tab): restored once the study's grid is known.
  const study = info?.studyInstanceUid ?? null;
  const seriesUid = info?.seriesInstanceUid ?? null;
  const restoredFor = React.useRef<string | null>(null);
  React.useEffect(() => {
    if (!env.memory || !study || !gridKey || !manifest || restoredFor.current === study) return;
    restoredFor.current = study;
    const kept = env.memory.get(MEMORY_KEYS.superResolveForm(study)) as Record<string, unknown> | null;
    if (!kept) return;
    if (typeof kept.presetId === 'string') setPresetId(kept.presetId);
    const t = kept.target as TargetChoice | null;
    if (
      t &&
      ((t.kind === 'scale' && sameShape(t.factors, [0, 0, 0])) ||
        (t.kind === 'spacing' && sameShape(t.spacingMm, [0, 0, 0])))
    )
      setTarget(t);
    if (sameShape(kept.settings, defaultSettings(manifest)))
      setSettings(kept.settings as SuperResolveSettings);
    if (kept.seriesUid === seriesUid && sameShape(kept.region, { start: [0, 0, 0], dims: [0, 0, 0] }))
      setRegionState({ key: gridKey, region: kept.region as CropBox });
  }, [env, study, seriesUid, gridKey, manifest]);
  React.useEffect(() => {
    if (!env.memory || !study || restoredFor.current !== study || !settings) return;
    env.memory.set(MEMORY_KEYS.superResolveForm(study), {
      presetId,
      target,
      settings,
      seriesUid,
      region,
    });
  }, [env, study, seriesUid, presetId, target, settings, region]);
  useLeaveGuard(
    isActive(job.phase) || (!!run && save.kind !== 'saved'),
    isActive(job.phase) ? 'The super-resolution in progress' : 'The unsaved super-resolution result',
  );
  const plan = React.useMemo(
    () =>
      grid && region && settings && manifest
        ? planSuperResolution(grid, { region, target, settings }, manifest)
        : null,
    [grid, region, target, settings, manifest],
  );
  const calibration = snapshot.calibration.kind === 'ready' ? snapshot.calibration.calibration : null;
  const prior = usePriorCosts(snapshot);
  const estimate = React.useMemo(
    () =>
      grid && plan?.ok && settings
        ? estimateSuperResolution(
            grid,
            plan,
            settings,
            calibration,
            tiling ?? snapshot.tiling,
            prior,
            manifest ? superResolutionDefaults(manifest).projectionIterations : undefined,
            manifest?.latent.factor,
          )
        : null,
    [grid, plan, settings, calibration, tiling, snapshot.tiling, prior, manifest],
  );

  const busy = isActive(job.phase) || snapshot.busy || save.kind === 'saving' || view.kind === 'loading';
  const canRun =
    !!plan?.ok && !!info?.isCt && snapshot.status.kind === 'ready' && !busy && !!info?.studyInstanceUid;

  const onPreset = (id: string) => {
    setPresetId(id);
    const p = TARGET_PRESETS.find((x) => x.id === id);
    if (p && grid) setTarget(p.target(grid));
    else if (id === 'custom-scale')
      setTarget({ kind: 'scale', factors: target.kind === 'scale' ? target.factors : [1, 1, 2] });
    else if (id === 'custom-spacing' && grid)
      setTarget({
        kind: 'spacing',
        spacingMm: target.kind === 'spacing' ? target.spacingMm : grid.spacingMm,
      });
  };

  const onRun = async () => {
    if (!info || !form || !info.studyInstanceUid || !info.seriesInstanceUid) return;
    resetSave();
    const displaySetUid = info.displaySetInstanceUID;
    const series = { studyInstanceUid: info.studyInstanceUid, seriesInstanceUid: info.seriesInstanceUid };
    setLostJob(null);
    if (env.memory)
      markJobStarted(env.memory, 'super-resolve', {
        what: `super-resolution of ${info.label}`,
        startedAt: Date.now(),
      });
    const r = await job
      .run(
        (hooks) =>
          runSuperResolution(env.engine, env.pacs(), series, form, {
            ...hooks,
            tiling,
            expectedSeconds: estimate?.expected ?? undefined,
          }),
        'run',
      )
      .finally(() => env.memory && markJobEnded(env.memory, 'super-resolve'));
    if (r) {
      const next = { ...r, displaySetUid };
      setRun(next);
      // Keep the source selected: showing the result makes it the active viewport's series.
      setChosenUid(displaySetUid);
      await showUnsaved(next, overlay);
    }
  };

  const showShown = (withOverlay: boolean) =>
    void show(shown, withOverlay).catch((e) =>
      env.ohif.notify({
        title: 'Could not show the result',
        message: String((e as Error).message),
        type: 'warning',
      }),
    );

  const header = (
    <PanelHeader
      title="Super-resolution"
      snapshot={snapshot}
      onBackendChoice={(choice) =>
        void env.engine
          .setBackendChoice(choice)
          .catch((e) =>
            env.ohif.notify({ title: 'Backend', message: String((e as Error).message), type: 'warning' }),
          )
      }
      onRetry={() => void env.engine.ensureReady().catch(() => undefined)}
    />
  );

  return (
    <div className="gldm-panel" data-testid="geometry-ldm-super-resolve">
      <PanelStyles />
      {header}
      {lostJob ? <LostJobNotice job={lostJob} onDismiss={() => setLostJob(null)} /> : null}

      <section className="gldm-section" aria-label="Series">
        <h3>Series</h3>
        <SelectField
          label="Series to super-resolve"
          value={selectedUid ?? ''}
          disabled={busy}
          options={[
            ...(selectedUid ? [] : [{ value: '', label: 'No series in the viewer' }]),
            ...list.map((s) => ({ value: s.displaySetInstanceUID, label: s.label })),
          ]}
          onChange={(v) => {
            setChosenUid(v || null);
            const picked = list.find((s) => s.displaySetInstanceUID === v);
            if (picked && !hasGrid(picked)) {
              const n = describeError(
                new DicomError(
                  picked.isCt ? 'missing-geometry' : 'not-ct',
                  (picked.grid as { error: string }).error,
                ),
                'read-series',
              );
              env.ohif.notify({ title: n.title, message: n.message, type: 'error' });
            }
          }}
        />
        {hiddenOutputs > 0 ? (
          <p className="gldm-hint" data-testid="geometry-ldm-hidden-outputs">
            {hiddenOutputs} series written by this product (AI results, uncertainty maps, synthetic CT){' '}
            {hiddenOutputs === 1 ? 'is' : 'are'} not offered: super-resolving AI output would compound its
            errors.
          </p>
        ) : null}
        {chosenUid && chosenUid !== activeUid && activeUid ? (
          <div>
            <button
              type="button"
              className="gldm-btn gldm-btn-secondary gldm-btn-small"
              onClick={() => setChosenUid(null)}
            >
              Follow the active viewport
            </button>
          </div>
        ) : null}
        {info && !hasGrid(info) ? (
          <p className="gldm-error">{('error' in info.grid && info.grid.error) || ''}</p>
        ) : null}
        {grid ? (
          <dl className="gldm-kv">
            <dt>Grid</dt>
            <dd>{formatDims(grid.dims)}</dd>
            <dt>Spacing</dt>
            <dd>{formatSpacing(grid.spacingMm)}</dd>
          </dl>
        ) : null}
        {grid?.irregular ? <p className="gldm-warning">{grid.irregular}</p> : null}
        {grid?.holes && settings ? (
          <>
            <p className="gldm-warning" data-testid="geometry-ldm-holes">
              {grid.holes}. The anatomy there was never acquired.
            </p>
            <CheckField
              label="Bridge gaps (interpolate across them; the saved series says so)"
              checked={settings.bridgeGaps}
              disabled={busy}
              onChange={(v) => setSettings({ ...settings, bridgeGaps: v })}
            />
          </>
        ) : null}
      </section>

      {grid && manifest && settings && region ? (
        <>
          <section className="gldm-section" aria-label="Target">
            <h3>Target</h3>
            <SelectField
              label="Preset"
              value={presetId}
              disabled={busy}
              options={[
                ...TARGET_PRESETS.map((p) => ({ value: p.id, label: p.label })),
                { value: 'custom-scale', label: 'Custom scale factors' },
                { value: 'custom-spacing', label: 'Custom spacing (mm)' },
              ]}
              onChange={onPreset}
            />
            {target.kind === 'scale' ? (
              <Vec3Field
                legend="Scale factor"
                axisLabels={['x (columns)', 'y (rows)', 'z (slices)']}
                values={target.factors as [number, number, number]}
                min={1}
                step="any"
                disabled={busy}
                onChange={(v) => {
                  setPresetId('custom-scale');
                  setTarget({ kind: 'scale', factors: v });
                }}
              />
            ) : (
              <Vec3Field
                legend="Target spacing (mm)"
                axisLabels={['x', 'y', 'z']}
                values={target.spacingMm as [number, number, number]}
                step="any"
                disabled={busy}
                onChange={(v) => {
                  setPresetId('custom-spacing');
                  setTarget({ kind: 'spacing', spacingMm: v });
                }}
              />
            )}
            <fieldset style={{ border: 0, margin: 0, padding: 0, minWidth: 0 }}>
              <legend className="gldm-label">Region of the series (voxels, first–last)</legend>
              {(['Columns', 'Rows', 'Slices'] as const).map((name, a) => (
                <div key={name} className="gldm-range-row">
                  <span className="gldm-hint" aria-hidden="true">
                    {name[0]}
                  </span>
                  <NumberField
                    label={`${name}: first`}
                    hideLabel
                    value={region.start[a] + 1}
                    min={1}
                    max={grid.dims[a]}
                    step={1}
                    disabled={busy}
                    onChange={(v) => {
                      const start = [...region.start] as [number, number, number];
                      const dims = [...region.dims] as [number, number, number];
                      const last = start[a] + dims[a];
                      start[a] = v - 1;
                      dims[a] = last - start[a];
                      setRegion({ start, dims });
                    }}
                  />
                  <NumberField
                    label={`${name}: last`}
                    hideLabel
                    value={region.start[a] + region.dims[a]}
                    min={1}
                    max={grid.dims[a]}
                    step={1}
                    disabled={busy}
                    onChange={(v) => {
                      const dims = [...region.dims] as [number, number, number];
                      dims[a] = v - region.start[a];
                      setRegion({ start: region.start, dims });
                    }}
                  />
                </div>
              ))}
              <div className="gldm-row" style={{ marginTop: 4 }}>
                <button
                  type="button"
                  className="gldm-btn gldm-btn-secondary gldm-btn-small"
                  disabled={busy}
                  title={`The largest region around the current one's centre whose result fits ${
                    settings.mode === 'diffusion' ? "the model's grid range" : "this mode's memory bounds"
                  }`}
                  onClick={() =>
                    setRegion(fitRegion(grid, target, manifest, settings.mode, regionCentre(region)))
                  }
                >
                  Fit region
                </button>
                <button
                  type="button"
                  className="gldm-btn gldm-btn-secondary gldm-btn-small"
                  disabled={busy}
                  onClick={() => setRegion(wholeRegion(grid))}
                >
                  Whole series
                </button>
              </div>
              <span className="gldm-hint">{regionText(region)}</span>
            </fieldset>
            {plan?.ok ? (
              <dl className="gldm-kv">
                <dt>Result grid</dt>
                <dd>{formatDims(plan.plan.output.dims)}</dd>
                <dt>Result spacing</dt>
                <dd>{formatSpacing(plan.spacingMm)}</dd>
                {settings?.mode === 'diffusion' ? (
                  <>
                    <dt>Model grid</dt>
                    <dd>{formatDims(plan.plan.padded.dims)}</dd>
                  </>
                ) : null}
              </dl>
            ) : null}
          </section>

          <section className="gldm-section" aria-label="Settings">
            <h3>Method</h3>
            <div className="gldm-grid2">
              <SelectField
                label="Mode"
                value={settings.mode}
                disabled={busy}
                options={availableModes(manifest).map((m) => ({ value: m, label: MODE_CHOICE[m] }))}
                onChange={(v) => {
                  const mode = v as SuperResolutionMode;
                  setSettings({ ...settings, mode, samples: defaultSamples(manifest, mode) });
                }}
              />
              <SelectField
                label="Slice profile"
                value={settings.slices}
                disabled={busy}
                options={SLICE_CHOICES}
                onChange={(v) => setSettings({ ...settings, slices: v as SliceModelChoice })}
              />
            </div>
            <p className="gldm-hint" data-testid="geometry-ldm-mode-note">
              {MODE_NOTE[settings.mode]}
            </p>
            <div className="gldm-grid2">
              {settings.mode === 'diffusion' ? (
                <>
                  <NumberField
                    label="Noise level t"
                    value={settings.tStart}
                    min={1}
                    max={manifest.scheduler.numTrainTimesteps - 1}
                    step={1}
                    disabled={busy}
                    onChange={(v) => setSettings({ ...settings, tStart: v })}
                  />
                  <NumberField
                    label="Cycles"
                    value={settings.cycles}
                    min={1}
                    step={1}
                    disabled={busy}
                    onChange={(v) => setSettings({ ...settings, cycles: v })}
                  />
                  <NumberField
                    label="DDIM steps"
                    value={settings.ddimSteps}
                    min={1}
                    step={1}
                    disabled={busy}
                    onChange={(v) => setSettings({ ...settings, ddimSteps: v })}
                  />
                </>
              ) : null}
              {settings.mode !== 'classical' ? (
                <NumberField
                  label="Samples"
                  value={settings.samples}
                  min={1}
                  max={settings.mode === 'ai' ? REFINER_MAX_SAMPLES : undefined}
                  step={1}
                  disabled={busy}
                  hint={
                    settings.mode === 'ai'
                      ? 'planes × mirrorings (1–8): mean and std over them. Held-out CT: 1 sample 7 % more error than 2; 4–8 about 0.5 % less, with a std that follows the error more closely, at 2–4× the time.'
                      : 'mean and std over samples'
                  }
                  onChange={(v) => setSettings({ ...settings, samples: v })}
                />
              ) : null}
              {settings.mode === 'diffusion' ? (
                <NumberField
                  label="Seed"
                  value={settings.seed}
                  min={0}
                  step={1}
                  disabled={busy}
                  onChange={(v) => setSettings({ ...settings, seed: v })}
                />
              ) : null}
            </div>
            <TilingControl value={tiling} automatic={snapshot.tiling} onChange={setTiling} disabled={busy} />
          </section>

          <PlanFeedback
            estimate={estimate}
            priorBasis={prior?.basis ?? null}
            plan={plan}
            timeNote={settings?.mode === 'ai' ? AI_TIME_NOTE : undefined}
            snapshot={snapshot}
            onCalibrate={() => void env.engine.calibrate()}
          />
        </>
      ) : null}

      <div className="gldm-row">
        <button type="button" className="gldm-btn gldm-wide" disabled={!canRun} onClick={() => void onRun()}>
          Super-resolve
        </button>
      </div>
      <EngineBusyHint busy={snapshot.busy && !isActive(job.phase)} />

      <ProgressView
        phase={job.cancelling ? { kind: 'preparing', message: 'Cancelling…', startedAt: 0 } : job.phase}
        onCancel={job.cancel}
        previewWindow={previewToRgba(manifest)}
      />

      {run ? (
        <section className="gldm-section" aria-label="Result">
          <h3>Result</h3>
          <dl className="gldm-kv">
            <dt>Grid</dt>
            <dd>{formatDims(run.result.mean.dims)}</dd>
            <dt>Spacing</dt>
            <dd>{formatSpacing(run.plan.spacingMm as Vec3)}</dd>
            <dt>Method</dt>
            <dd data-testid="geometry-ldm-method">{methodText(run.result)}</dd>
          </dl>
          <ResultViewer layers={resultLayers(run.result)} />
          {save.kind !== 'saved' ? (
            view.kind === 'loading' ? (
              <p className="gldm-hint" role="status">
                Showing the result in the viewer…
              </p>
            ) : view.kind === 'shown' ? (
              <p className="gldm-warning" role="status" data-testid="geometry-ldm-unsaved">
                Shown next to the source in the viewer — not saved to the PACS yet.
              </p>
            ) : view.kind === 'error' ? (
              <p className="gldm-warning">{view.message}</p>
            ) : null
          ) : null}
          {shown ? (
            <div style={{ display: 'flex', flexDirection: 'column', gap: 6 }}>
              {shown.stdUid ? (
                <CheckField
                  label="Show the std map as a colour overlay"
                  checked={overlay}
                  onChange={(v) => {
                    setOverlay(v);
                    showShown(v);
                  }}
                />
              ) : null}
              <button
                type="button"
                className="gldm-btn gldm-btn-secondary"
                onClick={() => showShown(overlay)}
              >
                Show source and result side by side
              </button>
            </div>
          ) : null}
          {run.result.settings.mode !== 'classical' ? (
            <CheckField
              label="Also save the uncertainty (std) map"
              checked={saveStd}
              disabled={save.kind === 'saving' || save.kind === 'saved'}
              onChange={setSaveStd}
            />
          ) : null}
          {save.kind !== 'saved' ? (
            <button
              type="button"
              className="gldm-btn gldm-wide"
              disabled={save.kind === 'saving' || busy}
              onClick={() => void saveRun(saveStd, overlay)}
            >
              {save.kind === 'saving' ? save.message : 'Save to PACS and show next to the source'}
            </button>
          ) : (
            <div style={{ display: 'flex', flexDirection: 'column', gap: 6 }}>
              <p className="gldm-ok" role="status">
                Saved: series {save.written.result.seriesInstanceUid}
                {save.written.uncertainty ? ' and its uncertainty map' : ''}.
              </p>
            </div>
          )}
          {save.kind === 'error' ? <p className="gldm-error">{save.message}</p> : null}
        </section>
      ) : null}
    </div>
  );
}

const MODE_CHOICE: Readonly<Record<SuperResolutionMode, string>> = {
  ai: 'AI refiner',
  classical: 'Classical (no AI)',
  diffusion: 'Latent diffusion',
};

// Measured on held-out CT (BENCHMARKS.md, sr-quality): keep these words true to the table.
/** The AI time counts every voxel; the refiner skips air away from the body (REFINER_BODY_BOX). */
const AI_TIME_NOTE = `The refiner runs only near the body (within about ${REFINER_BODY_BOX.marginVoxels} voxels of its extent in each plane), so a scan with air around the patient takes less; the time left shown during the run is measured on what it refines.`;

const MODE_NOTE: Readonly<Record<SuperResolutionMode, string>> = {
  ai: 'A 2D network sharpens the back-projection plane by plane; the result is then projected so it reproduces the acquired slices. Unseen CT: lower error than trilinear in all 66 cases measured (axial, sagittal and coronal slices), and than the classical mode in 65 (the exception: a smooth head CT coarsened in-plane only, 3.1 against 2.9 HU).',
  classical:
    'Iterative back-projection only: reproduces the acquired slices, adds nothing they did not record. Fast; no uncertainty map.',
  diffusion:
    'The latent diffusion of the paper, then the projection. With this small demo model (one cycle) it is about 5 % below the classical mode on held-out CT on average, ahead on 7 cases of 11 and up to 5 % behind on 3; the gain comes from its autoencoder, not its diffusion prior, and its uncertainty map follows the error only loosely. For research on the method.',
};

const SLICE_CHOICES = [
  { value: 'auto', label: 'From the series (SliceThickness)' },
  { value: 'box', label: 'Box (contiguous slices)' },
  { value: 'gaussian', label: 'Gaussian (FWHM = thickness)' },
  { value: 'point', label: 'Point-sampled (reformat)' },
  { value: 'none', label: 'None (no projection)' },
];

/** The volumes the panel can show: result, std, baselines and what the AI added (short labels: the half-width select). */
function resultLayers(r: ClientSuperResolveResult): ViewerLayer[] {
  const layers: ViewerLayer[] = [
    { id: 'mean', label: 'Super-resolved (mean)', shortLabel: 'Mean', volume: r.mean, window: SOFT_TISSUE },
  ];
  if (r.settings.mode !== 'classical') {
    layers.push({
      id: 'std',
      label: 'Uncertainty (std, HU)',
      shortLabel: 'Std (HU)',
      volume: r.std,
      window: percentileWindow(r.std.data),
      colour: HOT,
    });
    const diff = new Float32Array(r.mean.data.length);
    for (let q = 0; q < diff.length; q++) diff[q] = r.mean.data[q] - r.classical.data[q];
    layers.push({
      id: 'ai-minus-classical',
      label: 'AI minus classical (HU, ±100)',
      shortLabel: 'AI − classical',
      volume: { ...r.mean, data: diff, unit: 'HU' },
      window: { center: 0, width: 200 },
    });
    layers.push({
      id: 'classical',
      label: 'Classical back-projection',
      shortLabel: 'Classical',
      volume: r.classical,
      window: SOFT_TISSUE,
    });
  }
  layers.push({
    id: 'upsampled',
    label: 'Trilinear (baseline)',
    shortLabel: 'Trilinear',
    volume: r.upsampled,
    window: SOFT_TISSUE,
  });
  return layers;
}

function defaultRegion(
  grid: SeriesGrid,
  target: TargetChoice,
  manifest: ModelManifest,
  mode: SuperResolutionMode,
): CropBox {
  const whole = wholeRegion(grid);
  const trial = planSuperResolution(
    grid,
    { region: whole, target, settings: defaultSettings(manifest, mode) },
    manifest,
  );
  return trial.ok ? whole : fitRegion(grid, target, manifest, mode);
}

function regionCentre(r: CropBox): Vec3 {
  return [0, 1, 2].map((a) => r.start[a] + (r.dims[a] - 1) / 2) as unknown as Vec3;
}
