/**
 * From a source series and a finer output grid to the acquisition (volume/acquisition.ts)
 * that relates them, and the default slice model read from a series' header.
 *
 * The output grid must have the source's axes (planSuperResolutionTarget makes such
 * grids): output index t along axis a sits at source index o_a + r_a * t, so source
 * sample s is centred at fine coordinate (s - o_a) / r_a and the source spacing is 1 / r_a
 * fine voxels. In-plane (i, j) each sample is a box one source pixel wide (point when the
 * slice profile is point); along the slice axis k the profile and width come from the
 * SliceModel.
 */
import { sourceIndexMatrix } from './resample';
import { Acquisition, identityAxis, type AxisAcquisition, type SliceProfile } from './acquisition';
import type { Grid } from './volume';
import { VolumeError } from './volume';
import { spacingOf } from '../geometry/dicomGeometry';

/** How the slices of a series were acquired (slice axis k). */
export interface SliceModel {
  readonly profile: SliceProfile;
  /** Box width or Gaussian FWHM along k, mm (ignored for 'point'). */
  readonly widthMm: number;
  /** Why this model (shown to the user and recorded in the derived series). */
  readonly reason: string;
}

/** Text of a slice model for people and DICOM: "Gaussian 5.00 mm", "box 2.50 mm", "point". */
export function describeSliceModel(m: SliceModel): string {
  return m.profile === 'point'
    ? 'point-sampled'
    : `${m.profile === 'gaussian' ? 'Gaussian FWHM' : 'box'} ${m.widthMm.toFixed(2)} mm`;
}

/**
 * The default slice model of a series from its header: reformatted (ImageType REFORMATTED
 * or MPR) -> point-sampled; SliceThickness missing -> box as wide as the slice spacing;
 * thicker than the spacing (overlapping reconstructions) -> Gaussian with FWHM =
 * SliceThickness; otherwise a box of SliceThickness.
 */
export function autoSliceModel(
  sliceSpacingMm: number,
  sliceThicknessMm?: number | null,
  imageType?: readonly string[] | null,
): SliceModel {
  const types = (imageType ?? []).map((t) => t.toUpperCase());
  if (types.includes('REFORMATTED') || types.includes('MPR')) {
    return {
      profile: 'point',
      widthMm: 0,
      reason: `ImageType ${types.join('\\')}: reformatted, point-sampled`,
    };
  }
  if (!(sliceThicknessMm != null && sliceThicknessMm > 0)) {
    return {
      profile: 'box',
      widthMm: sliceSpacingMm,
      reason: `no SliceThickness: box as wide as the slice spacing (${sliceSpacingMm.toFixed(2)} mm)`,
    };
  }
  if (sliceThicknessMm > sliceSpacingMm * 1.05) {
    return {
      profile: 'gaussian',
      widthMm: sliceThicknessMm,
      reason: `SliceThickness ${sliceThicknessMm.toFixed(2)} mm > spacing ${sliceSpacingMm.toFixed(2)} mm (overlapping slices): Gaussian profile`,
    };
  }
  return {
    profile: 'box',
    widthMm: sliceThicknessMm,
    reason: `SliceThickness ${sliceThicknessMm.toFixed(2)} mm <= spacing ${sliceSpacingMm.toFixed(2)} mm: box profile`,
  };
}

/**
 * The acquisition of `source` as seen on the finer `output` grid (same axes).
 * Throws VolumeError('invalid-argument') when the output's axes are not the source's.
 */
export function seriesAcquisition(source: Grid, output: Grid, slice: SliceModel): Acquisition {
  const m = sourceIndexMatrix(source, output); // output index -> source index
  const r = [m[0], m[5], m[10]];
  const o = [m[3], m[7], m[11]];
  const offDiagonal = [m[1], m[2], m[4], m[6], m[8], m[9]];
  if (offDiagonal.some((v) => Math.abs(v) > 1e-6) || r.some((v) => !(v > 0))) {
    throw new VolumeError(
      'invalid-argument',
      'the measurement-consistency projection needs an output grid with the source series\u2019 axes (a finer grid of the same orientation)',
    );
  }
  const srcSpacingMm = spacingOf(source.affine);
  const axes = [0, 1, 2].map((a): AxisAcquisition => {
    const n = output.dims[a];
    const unchanged =
      source.dims[a] === n && Math.abs(r[a] - 1) < 1e-9 && Math.abs(o[a]) < 1e-9 && slice.profile !== 'point';
    if (unchanged && a < 2) return identityAxis(n);
    const widthSrc = a === 2 ? slice.widthMm / srcSpacingMm[2] : 1;
    const ax: AxisAcquisition = {
      count: source.dims[a],
      first: -o[a] / r[a],
      spacing: 1 / r[a],
      profile: a === 2 || slice.profile === 'point' ? slice.profile : 'box',
      width: slice.profile === 'point' ? 0 : widthSrc / r[a],
    };
    // box of one voxel on an unrefined axis is the identity
    if (unchanged && ax.profile === 'box' && Math.abs(ax.width - 1) < 1e-9) return identityAxis(n);
    return ax;
  }) as unknown as [AxisAcquisition, AxisAcquisition, AxisAcquisition];
  return new Acquisition(output.dims, axes);
}

/** What a user may choose for the slice model: read it from the header, name one, or no projection. */
export type SliceModelChoice = 'auto' | SliceProfile | 'none';
export const SLICE_MODEL_CHOICES: readonly SliceModelChoice[] = ['auto', 'box', 'gaussian', 'point', 'none'];

/**
 * The slice model of a series from the user's choice and its header: 'auto' follows
 * autoSliceModel; a named profile uses SliceThickness (or `thicknessMm`, or the slice
 * spacing) as its width; 'none' turns the projection off.
 */
export function sliceModelFor(
  choice: SliceModelChoice,
  sliceSpacingMm: number,
  header: { readonly sliceThicknessMm?: number | null; readonly imageType?: readonly string[] | null },
  thicknessMm?: number,
): SliceModel | 'none' {
  if (!SLICE_MODEL_CHOICES.includes(choice)) {
    throw new VolumeError(
      'invalid-argument',
      `unknown slice model '${String(choice)}' (${SLICE_MODEL_CHOICES.join(' | ')})`,
    );
  }
  if (thicknessMm !== undefined && !(thicknessMm > 0 && Number.isFinite(thicknessMm))) {
    throw new VolumeError(
      'invalid-argument',
      `slice thickness must be a positive number of mm, got ${thicknessMm}`,
    );
  }
  if (choice === 'none') return 'none';
  const t = thicknessMm ?? header.sliceThicknessMm ?? null;
  if (choice === 'auto') return autoSliceModel(sliceSpacingMm, t, thicknessMm ? null : header.imageType);
  const width = t != null && t > 0 ? t : sliceSpacingMm;
  return {
    profile: choice,
    widthMm: choice === 'point' ? 0 : width,
    reason: `chosen: ${choice}${choice === 'point' ? '' : ` ${width.toFixed(2)} mm${t != null && t > 0 ? '' : ' (the slice spacing)'}`}`,
  };
}
