/** What the engine says, shown: backend line and choice, model card, time/memory estimate, progress. */
import * as React from 'react';
import type { ModelManifest } from '../../model/manifest';
import type { ModelCard } from '../../worker/protocol';
import type { BackendChoice, EngineSnapshot } from '../engineSession';
import { adapterText, isSoftwareAdapter } from '../../inference/webRuntime';
import type { MemoryEstimate, TimeBasis, TimeEstimate, TimeStage } from '../../planning/estimate';
import { approxDuration, estimatedDuration, formatBytes, formatDuration } from '../../planning/format';
import { progressFraction, statusLine, type JobPhase } from '../jobState';
import { PreviewCanvas } from './canvases';
import { SelectField, type SelectOption } from './fields';
import { Messages, NotForDiagnosticUse } from './notices';

export function backendText(s: EngineSnapshot): string {
  const b = s.backend;
  if (!b) {
    if (s.status.kind === 'loading') return 'loading…';
    if (s.status.kind === 'error') return 'not available';
    return 'not started';
  }
  const threads = `${b.threads} thread${b.threads === 1 ? '' : 's'}`;
  if (b.executionProvider === 'webgpu') {
    const a = s.webgpu?.adapter;
    if (isSoftwareAdapter(a)) return `WebGPU on a software adapter (CPU, no GPU: ${adapterText(a ?? {})})`;
    return `WebGPU (GPU${a ? `: ${adapterText(a)}` : ''})`;
  }
  if (b.executionProvider === 'wasm') return `wasm (CPU), ${threads}`;
  return `${b.executionProvider}, ${threads}`;
}

const BACKEND_OPTIONS: readonly SelectOption[] = [
  { value: 'auto', label: 'Automatic (GPU if present, else CPU)' },
  { value: 'webgpu', label: 'WebGPU, even on a software adapter' },
  { value: 'wasm', label: 'wasm (CPU)' },
];

export function BackendIndicator(props: {
  readonly snapshot: EngineSnapshot;
  readonly onBackendChoice: (choice: BackendChoice) => void;
}): React.ReactElement {
  const s = props.snapshot;
  const gpu = s.backend?.executionProvider === 'webgpu' && !isSoftwareAdapter(s.webgpu?.adapter);
  return (
    <div className="gldm-row" style={{ justifyContent: 'space-between', flexWrap: 'wrap' }}>
      <span
        className={`gldm-badge${gpu ? ' gldm-badge-gpu' : ''}`}
        aria-live="polite"
        data-testid="geometry-ldm-backend"
      >
        Backend: {backendText(s)}
      </span>
      <SelectField
        label="Inference backend"
        value={s.backendChoice}
        options={BACKEND_OPTIONS}
        disabled={s.busy || s.status.kind === 'loading'}
        onChange={(v) => props.onBackendChoice(v as BackendChoice)}
      />
      {s.fallbackReason && s.backendChoice !== 'wasm' ? (
        <span className="gldm-hint" style={{ width: '100%' }} data-testid="geometry-ldm-backend-reason">
          On the CPU because {s.fallbackReason}.
        </span>
      ) : null}
    </div>
  );
}

export function ModelCardView(props: {
  readonly card: ModelCard | null;
  readonly manifest: ModelManifest | null;
}): React.ReactElement {
  const c = props.card;
  if (!c) return <div className="gldm-card">Model: not loaded yet</div>;
  return (
    <section className="gldm-card" aria-label="Model card">
      <div className="gldm-card-title">
        Model: {c.name} {c.version}
      </div>
      <div className="gldm-card-use">
        Intended use: <strong>{c.intendedUse}</strong>
      </div>
      <details>
        <summary>More about this model</summary>
        <dl className="gldm-kv" style={{ marginTop: 4 }}>
          <dt>Licence</dt>
          <dd>{c.licence}</dd>
          {props.manifest ? (
            <>
              <dt>Grid range</dt>
              <dd>
                {props.manifest.grid.min.join('×')} to {props.manifest.grid.max.join('×')} (multiples of{' '}
                {props.manifest.grid.multipleOf}; generation and latent diffusion)
              </dd>
              <dt>Group space</dt>
              <dd>{props.manifest.groupSpace.label ?? props.manifest.groupSpace.kind}</dd>
              <dt>Training data</dt>
              <dd>{props.manifest.trainingData.summary}</dd>
            </>
          ) : null}
          {c.description ? (
            <>
              <dt>About</dt>
              <dd>{c.description}</dd>
            </>
          ) : null}
        </dl>
      </details>
    </section>
  );
}

/** The stage that dominates a job, in words: "denoising 3 min", "refiner 40 s". */
function mainStageText(t: TimeEstimate): string {
  const words: Record<TimeStage, string> = {
    encode: 'encoder',
    unet: 'denoising',
    decode: 'decoder',
    refine: 'refiner',
    project: 'projection',
    other: 'other work',
  };
  const stages = Object.entries(t.byStage) as [TimeStage, number][];
  const model = stages.filter(([s]) => s === 'unet' || s === 'refine');
  const [stage, seconds] = (model.length > 0 ? model : stages).reduce((a, b) => (b[1] > a[1] ? b : a));
  return `${words[stage]} ${estimatedDuration(seconds)}`;
}

export function EstimateView(props: {
  readonly time: TimeEstimate | null;
  /** Where `time` comes from: this machine's calibration, or the model's recorded costs. */
  readonly timeBasis: TimeBasis | null;
  /** Plain words on the prior (priorCosts.ts), shown while the time is not measured. */
  readonly priorBasis: string | null;
  readonly memory: MemoryEstimate | null;
  readonly snapshot: EngineSnapshot;
  readonly onCalibrate: () => void;
  /** The settings have errors (listed below the estimate): there is no job to estimate. */
  readonly invalid?: boolean;
  /** What the time does not see before the job reads its images (one sentence). */
  readonly timeNote?: string;
}): React.ReactElement {
  const cal = props.snapshot.calibration;
  const measured = props.timeBasis === 'measured';
  return (
    <div className="gldm-section" aria-label="Estimate">
      <h3>Estimate ({backendText(props.snapshot)})</h3>
      <dl className="gldm-kv">
        <dt>Time</dt>
        <dd>
          {props.time ? (
            <>
              {approxDuration(props.time.seconds, measured ? 'about' : 'roughly')}{' '}
              <span className="gldm-hint">({mainStageText(props.time)})</span>
            </>
          ) : props.invalid ? (
            '— (the settings need a change: see below)'
          ) : cal.kind === 'running' ? (
            'measuring this machine…'
          ) : (
            'not measured yet'
          )}
        </dd>
        <dt>Memory</dt>
        <dd>
          {props.memory ? (
            <>
              about {formatBytes(props.memory.totalBytes)}{' '}
              <span className="gldm-hint">
                (engine buffers {formatBytes(props.memory.workerBytes)}, network activations ~
                {formatBytes(props.memory.activationBytes)}, page {formatBytes(props.memory.pageBytes)})
              </span>
            </>
          ) : (
            '—'
          )}
        </dd>
      </dl>
      {props.time && props.timeNote ? (
        <span className="gldm-hint" data-testid="geometry-ldm-time-note">
          {props.timeNote}{' '}
        </span>
      ) : null}
      {measured && cal.kind === 'ready' ? (
        <span className="gldm-hint">
          Time from a calibration on this machine ({cal.calibration.points.length} grid size
          {cal.calibration.points.length === 1 ? '' : 's'}
          {cal.calibration.planes ? ' and the AI refiner' : ''},{' '}
          {new Date(cal.calibration.measuredAt).toLocaleString()}).{' '}
        </span>
      ) : null}
      {props.time && props.timeBasis === 'prior' ? (
        <span className="gldm-hint" data-testid="geometry-ldm-prior-estimate">
          Approximate (not measured yet on this machine): {props.priorBasis ?? 'recorded costs'}.{' '}
          {cal.kind === 'running' ? 'Measuring this machine…' : 'Measure speed for a time from this machine.'}
        </span>
      ) : null}
      {cal.kind === 'failed' ? <span className="gldm-warning">Calibration failed: {cal.message}</span> : null}
      <div>
        <button
          type="button"
          className="gldm-btn gldm-btn-secondary gldm-btn-small"
          disabled={cal.kind === 'running' || props.snapshot.busy || props.snapshot.status.kind !== 'ready'}
          onClick={props.onCalibrate}
        >
          {cal.kind === 'ready' ? 'Measure speed again' : 'Measure speed (a few seconds)'}
        </button>
      </div>
    </div>
  );
}

/**
 * Under both panels' settings: the job's estimate and what its plan says (errors that stop
 * it, or warnings). `plan` is null while the panel has nothing to plan yet.
 */
export function PlanFeedback(props: {
  readonly estimate: {
    readonly time: TimeEstimate | null;
    readonly timeBasis: TimeBasis | null;
    readonly memory: MemoryEstimate | null;
  } | null;
  readonly priorBasis: string | null;
  readonly plan:
    | { readonly ok: true; readonly warnings: readonly string[] }
    | { readonly ok: false; readonly errors: readonly string[] }
    | null;
  readonly snapshot: EngineSnapshot;
  readonly onCalibrate: () => void;
  readonly timeNote?: string;
}): React.ReactElement {
  const { estimate, plan } = props;
  return (
    <>
      <EstimateView
        time={estimate?.time ?? null}
        timeBasis={estimate?.timeBasis ?? null}
        priorBasis={props.priorBasis}
        memory={estimate?.memory ?? null}
        snapshot={props.snapshot}
        onCalibrate={props.onCalibrate}
        invalid={!!plan && !plan.ok}
        timeNote={props.timeNote}
      />
      <Messages errors={plan && !plan.ok ? plan.errors : []} warnings={plan?.ok ? plan.warnings : []} />
    </>
  );
}

/** Why a panel's run button is greyed out while the engine runs someone else's job. */
export function EngineBusyHint(props: { readonly busy: boolean }): React.ReactElement | null {
  if (!props.busy) return null;
  return (
    <p className="gldm-hint" data-testid="geometry-ldm-engine-busy">
      The engine is busy with another job (the other panel&rsquo;s run or a speed measurement); this button
      comes back when it ends.
    </p>
  );
}

export function ProgressView(props: {
  readonly phase: JobPhase;
  readonly onCancel: () => void;
  readonly previewWindow?: (data: Float32Array) => Uint8ClampedArray;
}): React.ReactElement | null {
  const p = props.phase;
  if (p.kind === 'idle') return null;
  const fraction = progressFraction(p);
  const active = p.kind === 'preparing' || p.kind === 'running';
  return (
    <div className="gldm-section">
      <h3>Progress</h3>
      <div
        className="gldm-progress"
        role="progressbar"
        aria-label="Job progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={fraction === null ? undefined : Math.round(fraction * 100)}
      >
        <div style={{ width: `${Math.round((fraction ?? 0) * 100)}%` }} />
      </div>
      <div role="status" aria-live="polite" className={p.kind === 'error' ? 'gldm-error' : undefined}>
        {statusLine(p)}
        {p.kind === 'running' && p.etaSeconds !== null && p.step > 0
          ? ` — ${approxDuration(p.etaSeconds)} left`
          : ''}
        {p.kind === 'done' ? ` in ${formatDuration(p.seconds)}` : ''}
        {p.kind === 'error' ? `: ${p.message}` : ''}
      </div>
      {p.kind === 'running' && p.preview && props.previewWindow ? (
        <PreviewCanvas preview={p.preview} toRgba={props.previewWindow} />
      ) : null}
      {active ? (
        <button type="button" className="gldm-btn gldm-btn-danger" onClick={props.onCancel}>
          Cancel
        </button>
      ) : null}
    </div>
  );
}

export function PanelHeader(props: {
  readonly title: string;
  readonly snapshot: EngineSnapshot;
  readonly onBackendChoice: (choice: BackendChoice) => void;
  readonly onRetry: () => void;
}): React.ReactElement {
  const s = props.snapshot;
  return (
    <div style={{ display: 'flex', flexDirection: 'column', gap: 6 }}>
      <h2>{props.title}</h2>
      <NotForDiagnosticUse />
      <BackendIndicator snapshot={s} onBackendChoice={props.onBackendChoice} />
      <ModelCardView card={s.model} manifest={s.manifest} />
      {s.status.kind === 'error' ? (
        <div role="alert" className="gldm-error">
          {s.status.notice.title}: {s.status.notice.message}{' '}
          <button
            type="button"
            className="gldm-btn gldm-btn-secondary gldm-btn-small"
            onClick={props.onRetry}
          >
            Try again
          </button>
        </div>
      ) : null}
    </div>
  );
}
