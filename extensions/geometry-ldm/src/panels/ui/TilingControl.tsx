/**
 * "Advanced: memory". The engine already tiles the encoder/decoder when one
 * call would exceed the backend's limits (inference/tilingLimits.ts; shown
 * here); the user may ask for smaller tiles (less memory, a little slower).
 * Tiled and untiled results agree within the tolerance tiling.test.ts states.
 */
import * as React from 'react';
import type { TilingPolicy } from '../../inference/tiling';
import { CheckField, SelectField } from './fields';

export const TILE_SIZES = [64, 96, 128, 160, 192] as const;

function edge(policy: TilingPolicy): number {
  return Math.floor(Math.cbrt(policy.maxImageVoxelsPerCall) + 1e-9);
}

export function TilingControl(props: {
  readonly value: TilingPolicy | undefined;
  readonly automatic: TilingPolicy | null;
  readonly onChange: (v: TilingPolicy | undefined) => void;
  readonly disabled?: boolean;
}): React.ReactElement {
  const size = props.value ? edge(props.value) : 128;
  return (
    <details className="gldm-card">
      <summary>Advanced: memory</summary>
      <div style={{ display: 'flex', flexDirection: 'column', gap: 6, marginTop: 6 }}>
        <span className="gldm-hint">
          {props.automatic
            ? `Automatic: the engine tiles model calls above about ${edge(props.automatic)}³ voxels (this backend's limits).`
            : 'Automatic tiling follows the backend once the model is loaded.'}
        </span>
        <CheckField
          label="Use smaller tiles (less memory, slower)"
          checked={!!props.value}
          disabled={props.disabled}
          onChange={(on) => props.onChange(on ? { maxImageVoxelsPerCall: size ** 3 } : undefined)}
        />
        <SelectField
          label="Largest tile (voxels per model call)"
          value={String(size)}
          disabled={props.disabled || !props.value}
          options={TILE_SIZES.map((n) => ({ value: String(n), label: `${n} × ${n} × ${n}` }))}
          onChange={(v) => props.onChange({ maxImageVoxelsPerCall: Number(v) ** 3 })}
        />
      </div>
    </details>
  );
}
