/**
 * Generate panel: geometry (presets, grid, FOV per axis with a body-range
 * picker, or spacing; rotation) -> sampler -> estimate -> run with progress
 * and a live preview -> in-panel result -> save to PACS as a synthetic study
 * (synthetic patient), load it into the viewer and open it.
 */
import { markJobEnded, markJobStarted, MEMORY_KEYS, takeLostJob } from '../pageMemory';
import * as React from 'react';
import type { Dims3, Vec3 } from '../../geometry/conventions';
import type { FovRanges } from '../../geometry/generationGeometry';
import type { SyntheticStudyResult } from '../../dicom/writeSyntheticStudy';
import type { TilingPolicy } from '../../inference/tiling';
import type { ModelManifest } from '../../model/manifest';
import { formatDims, formatSpacing } from '../../planning/format';
import {
  axisLabels,
  defaultGenerateForm,
  estimateGenerate,
  generationTraits,
  GENERATE_PRESETS,
  planGenerate,
  presetProblem,
  type GenerateForm,
} from '../generateModel';
import { isActive } from '../jobState';
import { runGeneration, saveGeneration, type GenerateRun } from '../jobs';
import { describeError } from '../panelErrors';
import { newSaveIdentity, type SaveIdentity } from '../pacs';
import { SOFT_TISSUE } from '../preview';
import { ResultViewer } from './ResultViewer';
import { TilingControl } from './TilingControl';
import { EngineBusyHint, PanelHeader, PlanFeedback, ProgressView } from './engineViews';
import { LostJobNotice, PanelStyles } from './notices';
import { NumberField, SelectField, Vec3Field } from './fields';
import { useEngineSnapshot, useJob, useLeaveGuard, usePriorCosts } from './hooks';
import { previewToRgba } from '../preview';
import { sameShape } from '../pageMemory';
import { type PanelEnv } from './panelEnv';

type SaveState =
  | { kind: 'idle' }
  | { kind: 'saving'; message: string }
  | { kind: 'saved'; studies: SyntheticStudyResult[] }
  | { kind: 'error'; message: string };

const RANGE_PRESETS: readonly { id: string; label: string; range: readonly [number, number] }[] = [
  // short labels: the preset shares a row with the two numbers at OHIF's default panel width
  { id: 'all', label: 'all', range: [0, 1] },
  { id: 'upper', label: 'upper ½', range: [0.5, 1] },
  { id: 'lower', label: 'lower ½', range: [0, 0.5] },
  { id: 'middle', label: 'middle ½', range: [0.25, 0.75] },
];

/** One axis of the body-range picker: two numbers and a bar showing the range within [0, 1]. */
function AxisRange(props: {
  readonly axis: string;
  readonly zero: string;
  readonly one: string;
  readonly range: readonly [number, number];
  readonly disabled?: boolean;
  readonly onChange: (r: [number, number]) => void;
}): React.ReactElement {
  const [lo, hi] = props.range;
  const clamp = (x: number) => Math.min(1, Math.max(0, x));
  const left = Number.isFinite(lo) ? clamp(lo) : 0;
  const right = Number.isFinite(hi) ? clamp(hi) : 1;
  return (
    <fieldset style={{ border: 0, margin: 0, padding: 0, minWidth: 0 }}>
      <legend className="gldm-label">
        {props.axis}: 0 = {props.zero}; 1 = {props.one}
      </legend>
      <div
        className="gldm-grid3"
        style={{ alignItems: 'end', gridTemplateColumns: 'minmax(0,1fr) minmax(0,1fr) minmax(0,1.4fr)' }}
      >
        <NumberField
          label={`${props.axis} from`}
          hideLabel
          value={lo}
          step={0.05}
          disabled={props.disabled}
          onChange={(v) => props.onChange([v, hi])}
        />
        <NumberField
          label={`${props.axis} to`}
          hideLabel
          value={hi}
          step={0.05}
          disabled={props.disabled}
          onChange={(v) => props.onChange([lo, v])}
        />
        <SelectField
          label={`${props.axis} range preset`}
          value={RANGE_PRESETS.find((p) => p.range[0] === lo && p.range[1] === hi)?.id ?? 'custom'}
          disabled={props.disabled}
          options={[
            ...RANGE_PRESETS.map((p) => ({ value: p.id, label: p.label })),
            { value: 'custom', label: 'custom', disabled: true },
          ]}
          onChange={(id) => {
            const p = RANGE_PRESETS.find((x) => x.id === id);
            if (p) props.onChange([p.range[0], p.range[1]]);
          }}
        />
      </div>
      <div className="gldm-bodybar" aria-hidden="true">
        <div style={{ left: `${left * 100}%`, width: `${Math.max(0, right - left) * 100}%` }} />
      </div>
    </fieldset>
  );
}

/**
 * The saved study on its own route, opened at the middle slice of its first series (OHIF's
 * default hanging protocol honours initialSeriesInstanceUID / initialSOPInstanceUID): the
 * first slice is the edge of the field of view.
 */
function syntheticStudyUrl(study: {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly sopInstanceUids: readonly string[];
}): string {
  const loc = (globalThis as { location?: { pathname?: string } }).location;
  const path = loc?.pathname && loc.pathname !== '/' ? loc.pathname : '/viewer';
  const middle = study.sopInstanceUids[Math.floor(study.sopInstanceUids.length / 2)];
  const q = encodeURIComponent;
  return (
    `${path}?StudyInstanceUIDs=${q(study.studyInstanceUid)}` +
    (middle
      ? `&initialSeriesInstanceUID=${q(study.seriesInstanceUid)}&initialSOPInstanceUID=${q(middle)}`
      : '')
  );
}

export function GeneratePanel(props: { readonly env: PanelEnv }): React.ReactElement {
  const { env } = props;
  const snapshot = useEngineSnapshot(env.engine);
  const manifest: ModelManifest | null = snapshot.manifest;
  // settings survive a reload of this tab (checked against the model's defaults once it is known)
  const kept = React.useMemo(
    () =>
      (env.memory?.get(MEMORY_KEYS.generateForm) ?? null) as { form?: unknown; presetId?: unknown } | null,
    [env],
  );
  const [formState, setForm] = React.useState<GenerateForm | null>(null);
  const restored =
    manifest && kept && sameShape(kept.form, defaultGenerateForm(manifest))
      ? (kept.form as GenerateForm)
      : null;
  const form = formState ?? restored ?? (manifest ? defaultGenerateForm(manifest) : null);
  const [presetId, setPresetId] = React.useState(
    typeof kept?.presetId === 'string' ? kept.presetId : 'trained',
  );
  const [lostJob, setLostJob] = React.useState(() =>
    env.memory ? takeLostJob(env.memory, 'generate') : null,
  );
  const [tiling, setTiling] = React.useState<TilingPolicy | undefined>(undefined);
  const [run, setRun] = React.useState<GenerateRun | null>(null);
  const [save, setSave] = React.useState<SaveState>({ kind: 'idle' });
  // fixes the saved study's UIDs per run: Save after a failed Save completes the same study
  const identityRef = React.useRef<{ run: GenerateRun; identity: SaveIdentity } | null>(null);
  const job = useJob(env);

  React.useEffect(() => {
    void env.engine.ensureReady().catch(() => undefined);
  }, [env]);

  const plan = React.useMemo(
    () => (form && manifest ? planGenerate(form, manifest) : null),
    [form, manifest],
  );
  const calibration = snapshot.calibration.kind === 'ready' ? snapshot.calibration.calibration : null;
  const prior = usePriorCosts(snapshot);
  const estimate = React.useMemo(
    () =>
      form && plan?.ok && manifest
        ? estimateGenerate(
            form,
            calibration,
            tiling ?? snapshot.tiling,
            prior?.model,
            generationTraits(manifest),
          )
        : null,
    [form, plan, calibration, tiling, snapshot.tiling, prior, manifest],
  );
  const busy = isActive(job.phase) || snapshot.busy || save.kind === 'saving';
  const canRun = !!plan?.ok && snapshot.status.kind === 'ready' && !busy;
  const update = (patch: Partial<GenerateForm>) => {
    if (!form) return;
    setForm({ ...form, ...patch });
    if (
      'dims' in patch ||
      'fov' in patch ||
      'rotationDeg' in patch ||
      'mode' in patch ||
      'spacingMm' in patch
    )
      setPresetId('custom');
  };

  React.useEffect(() => {
    if (env.memory && form) env.memory.set(MEMORY_KEYS.generateForm, { form, presetId });
  }, [env, form, presetId]);
  useLeaveGuard(
    isActive(job.phase) || (!!run && save.kind !== 'saved'),
    isActive(job.phase) ? 'The generation in progress' : 'The unsaved generated volume',
  );

  const onRun = async () => {
    if (!form) return;
    setSave({ kind: 'idle' });
    setLostJob(null);
    if (env.memory)
      markJobStarted(env.memory, 'generate', {
        what: `generation of ${form.samples} sample${form.samples === 1 ? '' : 's'} (${form.dims.join(' × ')})`,
        startedAt: Date.now(),
      });
    const r = await job
      .run(
        (hooks) =>
          runGeneration(env.engine, form, {
            ...hooks,
            tiling,
            expectedSeconds: estimate?.expected ?? undefined,
          }),
        'run',
      )
      .finally(() => env.memory && markJobEnded(env.memory, 'generate'));
    if (r) setRun(r);
  };

  const onSave = async () => {
    if (!run) return;
    setSave({ kind: 'saving', message: 'Storing in the PACS' });
    let studies: SyntheticStudyResult[];
    try {
      if (identityRef.current?.run !== run) identityRef.current = { run, identity: newSaveIdentity() };
      studies = await saveGeneration(
        env.pacs(),
        run,
        (done, total) =>
          setSave({
            kind: 'saving',
            message: `Storing series ${done + 1 > total ? total : done + 1} of ${total}`,
          }),
        identityRef.current.identity,
      );
    } catch (e) {
      const n = describeError(e, 'save');
      env.ohif.notify({ title: n.title, message: n.message, type: 'error' });
      setSave({ kind: 'error', message: `${n.title}: ${n.message}` });
      return;
    }
    env.ohif.notify({
      title: 'Saved to the PACS',
      message: `Synthetic study stored (${studies.length} series, synthetic patient ${studies[0]?.patientId}).`,
      type: 'success',
    });
    // A synthetic patient never joins this session (it shows a real patient): the study opens
    // on its own, in a new tab, from the link below.
    setSave({ kind: 'saved', studies });
  };

  const labels = manifest ? axisLabels(manifest) : [];

  return (
    <div className="gldm-panel" data-testid="geometry-ldm-generate">
      <PanelStyles />
      <PanelHeader
        title="Generate a synthetic CT"
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
      {lostJob ? <LostJobNotice job={lostJob} onDismiss={() => setLostJob(null)} /> : null}

      {form && manifest ? (
        <>
          <section className="gldm-section" aria-label="Geometry">
            <h3>Geometry</h3>
            <SelectField
              label="Preset"
              value={presetId}
              disabled={busy}
              options={[
                ...GENERATE_PRESETS.map((p) => {
                  const problem = presetProblem(p, manifest);
                  return {
                    value: p.id,
                    label: problem ? `${p.label} — ${problem}` : p.label,
                    disabled: !!problem,
                  };
                }),
                { value: 'custom', label: 'Custom', disabled: true },
              ]}
              onChange={(id) => {
                const p = GENERATE_PRESETS.find((x) => x.id === id);
                if (!p) return;
                setPresetId(id);
                setForm({ ...form, ...p.apply(manifest) });
              }}
            />
            <Vec3Field
              legend="Grid size (voxels)"
              axisLabels={['x', 'y', 'z']}
              values={form.dims as [number, number, number]}
              step={manifest.grid.multipleOf}
              min={manifest.grid.multipleOf}
              disabled={busy}
              onChange={(v) => update({ dims: v as Dims3 })}
            />
            <SelectField
              label="Field of view given by"
              value={form.mode}
              disabled={busy}
              options={[
                { value: 'fov', label: 'Body range per axis (spacing follows)' },
                { value: 'spacing', label: 'Spacing in mm (range follows)' },
              ]}
              onChange={(v) => {
                if (v === 'spacing' && plan?.ok)
                  update({
                    mode: 'spacing',
                    spacingMm: plan.geometry.spacingMm,
                    fovCentre: plan.geometry.centreGroup,
                  });
                else update({ mode: v as GenerateForm['mode'] });
              }}
            />
            {form.mode === 'fov' ? (
              <div style={{ display: 'flex', flexDirection: 'column', gap: 6 }}>
                {labels.map((l, a) => (
                  <AxisRange
                    key={l.axis}
                    axis={l.axis}
                    zero={l.zero}
                    one={l.one}
                    range={form.fov[a]}
                    disabled={busy}
                    onChange={(r) => {
                      const fov = [...form.fov] as [FovRanges[0], FovRanges[1], FovRanges[2]];
                      fov[a] = r;
                      update({ fov });
                    }}
                  />
                ))}
              </div>
            ) : (
              <>
                <Vec3Field
                  legend="Spacing (mm)"
                  axisLabels={['x', 'y', 'z']}
                  values={form.spacingMm as [number, number, number]}
                  step="any"
                  disabled={busy}
                  onChange={(v) => update({ spacingMm: v as Vec3 })}
                />
                <Vec3Field
                  legend="Centre of the field of view (u, v, w in 0–1)"
                  axisLabels={['u', 'v', 'w']}
                  values={form.fovCentre as [number, number, number]}
                  step={0.05}
                  disabled={busy}
                  onChange={(v) => update({ fovCentre: v as Vec3 })}
                />
              </>
            )}
            <Vec3Field
              legend="Rotation (degrees about x, y, z)"
              axisLabels={['x', 'y', 'z']}
              values={form.rotationDeg as [number, number, number]}
              step={1}
              disabled={busy}
              onChange={(v) => update({ rotationDeg: v as Vec3 })}
            />
            {plan?.ok ? (
              <dl className="gldm-kv">
                <dt>Grid</dt>
                <dd>{formatDims(plan.geometry.dims)}</dd>
                <dt>Spacing</dt>
                <dd>{formatSpacing(plan.geometry.spacingMm)}</dd>
                <dt>Range</dt>
                <dd>
                  {plan.fov.map((r, a) => `${'uvw'[a]} ${r[0].toFixed(2)}–${r[1].toFixed(2)}`).join(', ')}
                </dd>
              </dl>
            ) : null}
          </section>

          <section className="gldm-section" aria-label="Sampling">
            <h3>Sampling</h3>
            <div className="gldm-grid2">
              <SelectField
                label="Sampler"
                value={form.sampler}
                disabled={busy}
                options={[
                  // short labels: the select is half of OHIF's default panel width; the hint below says more
                  { value: 'ddim', label: 'DDIM (fast)' },
                  { value: 'ddpm', label: 'DDPM (slow)' },
                ]}
                onChange={(v) =>
                  update({
                    sampler: v as GenerateForm['sampler'],
                    steps:
                      v === 'ddpm' ? manifest.scheduler.numTrainTimesteps : manifest.generation.ddimSteps,
                  })
                }
              />
              <NumberField
                label="Steps"
                value={form.steps}
                min={1}
                max={manifest.scheduler.numTrainTimesteps}
                step={1}
                disabled={busy}
                onChange={(v) => update({ steps: v })}
              />
              <NumberField
                label="Samples"
                value={form.samples}
                min={1}
                step={1}
                disabled={busy}
                onChange={(v) => update({ samples: v })}
              />
              <NumberField
                label="Seed"
                value={form.seed}
                min={0}
                step={1}
                disabled={busy}
                onChange={(v) => update({ seed: v })}
              />
            </div>
            <span className="gldm-hint" data-testid="geometry-ldm-sampler-hint">
              {form.sampler === 'ddim'
                ? (manifest.generation.ddimEta ?? 0) > 0
                  ? `DDIM: a few steps, fresh noise at each (η = ${manifest.generation.ddimEta}, the model's setting).`
                  : 'DDIM: a few steps, no noise added between them.'
                : `DDPM: up to ${manifest.scheduler.numTrainTimesteps} steps, fresh noise at each.`}{' '}
              The same seed gives the same image.
            </span>
            <div>
              <button
                type="button"
                className="gldm-btn gldm-btn-secondary gldm-btn-small"
                disabled={busy}
                onClick={() => update({ seed: Math.floor(Math.random() * 2 ** 31) })}
              >
                Random seed
              </button>
            </div>
            <TilingControl value={tiling} automatic={snapshot.tiling} onChange={setTiling} disabled={busy} />
          </section>

          <PlanFeedback
            estimate={estimate}
            priorBasis={prior?.basis ?? null}
            plan={plan}
            snapshot={snapshot}
            onCalibrate={() => void env.engine.calibrate()}
          />
        </>
      ) : null}

      <div className="gldm-row">
        <button type="button" className="gldm-btn gldm-wide" disabled={!canRun} onClick={() => void onRun()}>
          Generate
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
            <dd>{formatDims(run.result.geometry.dims)}</dd>
            <dt>Spacing</dt>
            <dd>{formatSpacing(run.result.geometry.spacingMm)}</dd>
            <dt>Sample seeds</dt>
            <dd>
              {run.result.samples.map((s) => s.seed).join(', ')} (derived from the seed {run.form.seed} and
              each sample&apos;s number: the same seed gives the same samples)
            </dd>
          </dl>
          <ResultViewer
            layers={run.result.samples.map((s) => ({
              id: String(s.index),
              label: `Sample ${s.index + 1} (seed ${s.seed})`,
              shortLabel: `Sample ${s.index + 1}`,
              volume: s.volume,
              window: SOFT_TISSUE,
            }))}
          />
          {save.kind !== 'saved' ? (
            <button
              type="button"
              className="gldm-btn gldm-wide"
              disabled={save.kind === 'saving' || busy}
              onClick={() => void onSave()}
            >
              {save.kind === 'saving' ? save.message : 'Save to PACS as a synthetic study'}
            </button>
          ) : (
            <div style={{ display: 'flex', flexDirection: 'column', gap: 6 }}>
              <p className="gldm-ok" role="status">
                Saved as synthetic study {save.studies[0]?.studyInstanceUid} (synthetic patient{' '}
                {save.studies[0]?.patientId}). It opens on its own, never in this patient&apos;s session.
              </p>
              <a
                className="gldm-btn gldm-btn-secondary"
                href={syntheticStudyUrl(save.studies[0])}
                target="_blank"
                rel="noopener"
              >
                Open the synthetic study (new tab)
              </a>
            </div>
          )}
          {save.kind === 'error' ? <p className="gldm-error">{save.message}</p> : null}
        </section>
      ) : null}
    </div>
  );
}
