/**
 * In-panel viewer of result volumes (before they are saved and shown in the
 * OHIF viewports): which volume, which plane, which slice (keyboard: the
 * slider takes arrow keys / Page Up / Page Down).
 */
import * as React from 'react';
import type { Volume } from '../../volume/volume';
import { extractSlice, sliceCount, type ColourMap, type ViewAxis, type Window } from '../preview';
import { SelectField } from './fields';
import { SliceCanvas } from './canvases';

export interface ViewerLayer {
  readonly id: string;
  readonly label: string;
  /** For the "Show" select, which has half the panel's width (default: `label`). */
  readonly shortLabel?: string;
  readonly volume: Volume;
  readonly window: Window;
  readonly colour?: ColourMap;
}

export function ResultViewer(props: { readonly layers: readonly ViewerLayer[] }): React.ReactElement | null {
  const [layerId, setLayerId] = React.useState(props.layers[0]?.id ?? '');
  const [axis, setAxis] = React.useState<ViewAxis>('axial');
  const layer = props.layers.find((l) => l.id === layerId) ?? props.layers[0];
  const count = layer ? sliceCount(layer.volume.dims, axis) : 1;
  const [index, setIndex] = React.useState(Math.floor(count / 2));
  React.useEffect(() => setIndex((i) => Math.min(Math.max(0, i), count - 1)), [count]);
  const sliderId = React.useId();
  const slice = React.useMemo(
    () => (layer ? extractSlice(layer.volume, axis, Math.min(index, count - 1)) : null),
    [layer, axis, index, count],
  );
  if (!layer || !slice) return null;
  return (
    <div style={{ display: 'flex', flexDirection: 'column', gap: 6 }}>
      <div className="gldm-grid2">
        <SelectField
          label="Show"
          value={layer.id}
          options={props.layers.map((l) => ({ value: l.id, label: l.shortLabel ?? l.label }))}
          onChange={setLayerId}
        />
        <SelectField
          label="Plane"
          value={axis}
          options={[
            { value: 'axial', label: 'Axial' },
            { value: 'coronal', label: 'Coronal' },
            { value: 'sagittal', label: 'Sagittal' },
          ]}
          onChange={(v) => {
            const a = v as ViewAxis;
            setAxis(a);
            setIndex(Math.floor(sliceCount(layer.volume.dims, a) / 2));
          }}
        />
      </div>
      {layer.shortLabel ? (
        <span className="gldm-hint" data-testid="geometry-ldm-layer-name">
          {layer.label}
        </span>
      ) : null}
      <SliceCanvas
        slice={slice}
        window={layer.window}
        colour={layer.colour}
        label={`${layer.label}, ${axis} slice ${index + 1} of ${count}`}
      />
      <div>
        <label htmlFor={sliderId} className="gldm-label">
          Slice {Math.min(index, count - 1) + 1} of {count}
        </label>
        <input
          id={sliderId}
          type="range"
          min={0}
          max={count - 1}
          step={1}
          value={Math.min(index, count - 1)}
          onChange={(e) => setIndex(Number(e.target.value))}
          style={{ width: '100%' }}
        />
      </div>
    </div>
  );
}
