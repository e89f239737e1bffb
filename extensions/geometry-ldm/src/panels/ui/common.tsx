/**
 * Small building blocks shared by both panels: labelled inputs (every control
 * has a <label> or a <legend>), the backend indicator, the model card, the
 * "not for diagnostic use" banner, the progress view and the slice canvas.
 */
import * as React from 'react';
import type { ModelManifest } from '../../model/manifest';
import type { ModelCard } from '../../worker/protocol';
import type { BackendChoice, EngineSnapshot } from '../engineSession';
import { adapterText, isSoftwareAdapter } from '../../inference/webRuntime';
import { lostJobText, type JobMarker } from '../pageMemory';
import type { MemoryEstimate, TimeBasis, TimeEstimate } from '../../planning/estimate';
import { formatBytes, formatDuration } from '../../planning/format';
import { progressFraction, statusLine, type JobPhase, type PreviewImage } from '../jobState';
import { GREY, toRgba, type ColourMap, type Slice, type Window } from '../preview';
import { priorCosts, type PriorCosts } from '../priorCosts';
import { PANEL_CSS } from './styles';

export function PanelStyles(): React.ReactElement {
  return <style>{PANEL_CSS}</style>;
}

function formatNumber(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toFixed(4))) : '';
}

export interface NumberFieldProps {
  readonly label: string;
  readonly value: number;
  readonly onChange: (v: number) => void;
  readonly min?: number;
  readonly max?: number;
  readonly step?: number | 'any';
  readonly disabled?: boolean;
  readonly hint?: string;
  /** Visually hidden label (the group's legend says what it is). */
  readonly hideLabel?: boolean;
}

/** A number input that lets the user type freely; the parent validates (NaN while the text is not a number). */
export function NumberField(props: NumberFieldProps): React.ReactElement {
  const id = React.useId();
  const [text, setText] = React.useState(formatNumber(props.value));
  React.useEffect(() => {
    setText((t) => (Number(t) === props.value && t.trim() !== '' ? t : formatNumber(props.value)));
  }, [props.value]);
  return (
    <div>
      <label htmlFor={id} className={props.hideLabel ? 'gldm-sr-only' : 'gldm-label'}>
        {props.label}
      </label>
      <input
        id={id}
        className="gldm-input gldm-value"
        type="number"
        inputMode="decimal"
        value={text}
        min={props.min}
        max={props.max}
        step={props.step ?? 'any'}
        disabled={props.disabled}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        onChange={(e) => {
          setText(e.target.value);
          props.onChange(e.target.value.trim() === '' ? NaN : Number(e.target.value));
        }}
      />
      {props.hint ? (
        <div id={`${id}-hint`} className="gldm-hint">
          {props.hint}
        </div>
      ) : null}
    </div>
  );
}

export interface Vec3FieldProps {
  readonly legend: string;
  readonly axisLabels: readonly [string, string, string];
  readonly values: readonly [number, number, number];
  readonly onChange: (v: [number, number, number]) => void;
  readonly step?: number | 'any';
  readonly min?: number;
  readonly disabled?: boolean;
}

export function Vec3Field(props: Vec3FieldProps): React.ReactElement {
  return (
    <fieldset style={{ border: 0, margin: 0, padding: 0, minWidth: 0 }}>
      <legend className="gldm-label">{props.legend}</legend>
      <div className="gldm-grid3">
        {[0, 1, 2].map((a) => (
          <NumberField
            key={a}
            label={`${props.legend}: ${props.axisLabels[a]}`}
            hideLabel
            value={props.values[a]}
            step={props.step}
            min={props.min}
            disabled={props.disabled}
            onChange={(v) => {
              const next = [...props.values] as [number, number, number];
              next[a] = v;
              props.onChange(next);
            }}
          />
        ))}
      </div>
      <div className="gldm-grid3 gldm-hint" aria-hidden="true">
        {props.axisLabels.map((l) => (
          <span key={l}>{l}</span>
        ))}
      </div>
    </fieldset>
  );
}

export interface SelectOption {
  readonly value: string;
  readonly label: string;
  readonly disabled?: boolean;
}

export function SelectField(props: {
  readonly label: string;
  readonly value: string;
  readonly options: readonly SelectOption[];
  readonly onChange: (v: string) => void;
  readonly disabled?: boolean;
}): React.ReactElement {
  const id = React.useId();
  return (
    <div>
      <label htmlFor={id} className="gldm-label">
        {props.label}
      </label>
      <select
        id={id}
        className="gldm-select"
        value={props.value}
        disabled={props.disabled}
        onChange={(e) => props.onChange(e.target.value)}
      >
        {props.options.map((o) => (
          <option key={o.value} value={o.value} disabled={o.disabled}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function CheckField(props: {
  readonly label: string;
  readonly checked: boolean;
  readonly onChange: (v: boolean) => void;
  readonly disabled?: boolean;
}): React.ReactElement {
  const id = React.useId();
  return (
    <div className="gldm-check">
      <input
        id={id}
        type="checkbox"
        checked={props.checked}
        disabled={props.disabled}
        onChange={(e) => props.onChange(e.target.checked)}
      />
      <label htmlFor={id}>{props.label}</label>
    </div>
  );
}

export function NotForDiagnosticUse(): React.ReactElement {
  return <span className="gldm-ndu">AI-generated — NOT FOR DIAGNOSTIC USE</span>;
}

export function Messages(props: {
  readonly errors?: readonly string[];
  readonly warnings?: readonly string[];
}): React.ReactElement | null {
  const errors = props.errors ?? [];
  const warnings = props.warnings ?? [];
  if (errors.length === 0 && warnings.length === 0) return null;
  return (
    <div role="status" aria-live="polite">
      {errors.map((e) => (
        <p key={e} className="gldm-error" style={{ margin: '2px 0' }}>
          {e}
        </p>
      ))}
      {warnings.map((w) => (
        <p key={w} className="gldm-warning" style={{ margin: '2px 0' }}>
          {w}
        </p>
      ))}
    </div>
  );
}

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
                {props.manifest.grid.multipleOf})
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

export function EstimateView(props: {
  readonly time: TimeEstimate | null;
  /** Where `time` comes from: this machine's calibration, or the model's recorded costs. */
  readonly timeBasis: TimeBasis | null;
  /** Plain words on the prior (priorCosts.ts), shown while the time is not measured. */
  readonly priorBasis: string | null;
  readonly memory: MemoryEstimate | null;
  readonly snapshot: EngineSnapshot;
  readonly onCalibrate: () => void;
  /** Shown instead of a time when the chosen method has no time model (the calibration cannot help). */
  readonly timeUnavailable?: string;
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
              {measured ? 'about' : 'roughly'} {formatDuration(props.time.seconds)}{' '}
              <span className="gldm-hint">(denoising {formatDuration(props.time.byStage.unet)})</span>
            </>
          ) : props.timeUnavailable ? (
            <span className="gldm-hint">{props.timeUnavailable}</span>
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
      {measured && cal.kind === 'ready' ? (
        <span className="gldm-hint">
          Time from a calibration on this machine ({cal.calibration.points.length} grid sizes,{' '}
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

/** The prior time estimate for the engine's backend (the model's recorded costs), until measured. */
export function usePriorCosts(s: EngineSnapshot): PriorCosts | null {
  const { manifest, backend, webgpu } = s;
  return React.useMemo(
    () => (manifest && backend ? priorCosts(manifest, backend, webgpu) : null),
    [manifest, backend, webgpu],
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
          ? ` — about ${formatDuration(p.etaSeconds)} left`
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

function PreviewCanvas(props: {
  readonly preview: PreviewImage;
  readonly toRgba: (data: Float32Array) => Uint8ClampedArray;
}): React.ReactElement {
  const { preview } = props;
  return (
    <RgbaCanvas
      width={preview.width}
      height={preview.height}
      rgba={props.toRgba(preview.data)}
      aspect={preview.width / preview.height}
      label="Preview of the current estimate (middle slice)"
    />
  );
}

export function RgbaCanvas(props: {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8ClampedArray;
  readonly aspect: number;
  readonly label: string;
}): React.ReactElement {
  const ref = React.useRef<HTMLCanvasElement | null>(null);
  React.useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx || props.width <= 0 || props.height <= 0) return;
    const image = ctx.createImageData(props.width, props.height);
    image.data.set(props.rgba);
    ctx.putImageData(image, 0, 0);
  }, [props.rgba, props.width, props.height]);
  return (
    <div className="gldm-view">
      <canvas
        ref={ref}
        width={props.width}
        height={props.height}
        role="img"
        aria-label={props.label}
        style={{ aspectRatio: String(props.aspect) }}
      />
      <NotForDiagnosticUse />
    </div>
  );
}

export function SliceCanvas(props: {
  readonly slice: Slice;
  readonly window: Window;
  readonly colour?: ColourMap;
  readonly label: string;
}): React.ReactElement {
  const { slice } = props;
  const rgba = React.useMemo(
    () => toRgba(slice.data, props.window, props.colour ?? GREY),
    [slice, props.window, props.colour],
  );
  return (
    <RgbaCanvas
      width={slice.width}
      height={slice.height}
      rgba={rgba}
      aspect={(slice.width * slice.pixelMm[0]) / (slice.height * slice.pixelMm[1])}
      label={props.label}
    />
  );
}

/** Subscribes a component to the shared engine session. */
export function useEngineSnapshot(session: {
  subscribe: (l: () => void) => () => void;
  getSnapshot: () => EngineSnapshot;
}): EngineSnapshot {
  return React.useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);
}

/** A job this tab lost to a reload (pageMemory.ts), named until dismissed; both panels show it. */
export function LostJobNotice(props: {
  readonly job: JobMarker;
  readonly onDismiss: () => void;
}): React.ReactElement {
  return (
    <div role="status" className="gldm-warning" data-testid="geometry-ldm-lost-job">
      {lostJobText(props.job)}{' '}
      <button type="button" className="gldm-btn gldm-btn-secondary gldm-btn-small" onClick={props.onDismiss}>
        Dismiss
      </button>
    </div>
  );
}
