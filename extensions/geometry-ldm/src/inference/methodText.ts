/**
 * The words that say how a super-resolution was made: for the panel, the CLI and the
 * derived series (DerivationDescription). One place, so all three say the same.
 */
import type { SuperResolutionMode } from '../model/manifest';
import type { Fidelity } from '../volume/acquisition';
import { describeSliceModel, type SliceModel } from '../volume/seriesAcquisition';

export const MODE_LABEL: Readonly<Record<SuperResolutionMode, string>> = {
  ai: 'AI refiner + projection',
  classical: 'classical back-projection (no AI)',
  diffusion: 'latent diffusion (paper method) + projection',
};

/**
 * The mode's word in series descriptions, short enough that "UNSAVED <tag> x4 z" fits the 64
 * characters of SeriesDescription beside the markers: CNN (the AI refiner), IBP (iterative
 * back-projection, the classical mode), LDM (latent diffusion). DerivationDescription spells
 * the method out.
 */
export const MODE_TAG: Readonly<Record<SuperResolutionMode, string>> = {
  ai: 'CNN',
  classical: 'IBP',
  diffusion: 'LDM',
};

/** "reproduces the acquired slices within 0.4 HU (mean; 99 % within 2.1 HU)". */
export function fidelityText(f: Fidelity | null): string {
  if (!f) return 'not projected onto the acquired slices';
  return `reproduces the acquired slices within ${f.meanAbs.toFixed(1)} HU (mean; 99 % within ${f.p99Abs.toFixed(1)} HU)`;
}

/** One line: mode, samples, slice model and fidelity. */
export function methodText(r: {
  readonly settings: {
    readonly mode: SuperResolutionMode;
    readonly samples: number;
    readonly slices: SliceModel | 'none';
  };
  readonly fidelity: Fidelity | null;
}): string {
  const s = r.settings;
  const slices = s.slices === 'none' ? 'no slice model' : `slice model ${describeSliceModel(s.slices)}`;
  const samples = s.mode === 'classical' ? '' : `, ${s.samples} sample${s.samples === 1 ? '' : 's'}`;
  return `${MODE_LABEL[s.mode]}${samples}; ${slices}; ${fidelityText(r.fidelity)}`;
}
