/** Labelled inputs shared by both panels: every control has a <label> or a <legend>. */
import * as React from 'react';

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

/**
 * A control and its <label>, tied by a generated id, in one wrapper <div>: the label above the
 * control, or for a checkbox (`check`) the control first with its label beside it.
 */
function LabelledControl(props: {
  readonly label: string;
  readonly check?: boolean;
  readonly children: (id: string) => React.ReactElement;
}): React.ReactElement {
  const id = React.useId();
  const label = (
    <label htmlFor={id} className={props.check ? undefined : 'gldm-label'}>
      {props.label}
    </label>
  );
  return props.check ? (
    <div className="gldm-check">
      {props.children(id)}
      {label}
    </div>
  ) : (
    <div>
      {label}
      {props.children(id)}
    </div>
  );
}

export function SelectField(props: {
  readonly label: string;
  readonly value: string;
  readonly options: readonly SelectOption[];
  readonly onChange: (v: string) => void;
  readonly disabled?: boolean;
}): React.ReactElement {
  return (
    <LabelledControl label={props.label}>
      {(id) => (
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
      )}
    </LabelledControl>
  );
}

export function CheckField(props: {
  readonly label: string;
  readonly checked: boolean;
  readonly onChange: (v: boolean) => void;
  readonly disabled?: boolean;
}): React.ReactElement {
  return (
    <LabelledControl label={props.label} check>
      {(id) => (
        <input
          id={id}
          type="checkbox"
          checked={props.checked}
          disabled={props.disabled}
          onChange={(e) => props.onChange(e.target.checked)}
        />
      )}
    </LabelledControl>
  );
}
