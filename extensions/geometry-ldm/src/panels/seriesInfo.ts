/**
 * What the super-resolution panel knows about a series before reading its
 * voxels: identity and modality from the OHIF display set, and the grid and
 * spacing from the instances' geometry tags (ImagePositionPatient,
 * ImageOrientationPatient, PixelSpacing, Rows, Columns) with the same
 * geometry code the reader uses. Irregular stacks (non-uniform spacing,
 * gantry tilt) are read with exact resampling onto a regular grid; the grid
 * shown for them is the stack's nominal one (same slice count, mean gap).
 */
import { regularGeometry, sliceStack, spacingOf, type SliceGeometryInput } from '../geometry/dicomGeometry';
import { sliceHoles } from '../geometry/sliceHoles';
import { DEFAULT_MIN_SLICES } from '../dicom/readSeries';
import { productOutputReason } from '../dicom/productOutput';
import { GeometryError } from '../geometry/errors';
import { fromColumns, scale } from '../geometry/affine';
import type { DisplaySet, InstanceMetadata } from '../ohif/ohifTypes';
import type { SeriesGrid } from '../planning/seriesGrid';

/** ImageType's values (OHIF gives an array, or one backslash-separated string), or null. */
function imageTypeValues(m: InstanceMetadata | undefined): string[] | null {
  const t = m?.ImageType;
  return Array.isArray(t) ? [...(t as readonly string[])] : typeof t === 'string' ? t.split('\\') : null;
}

/** ImageType value 3 LOCALIZER: a scout in the series, not one of its slices (as the reader drops it). */
export function withoutLocalizers(instances: readonly InstanceMetadata[]): InstanceMetadata[] {
  return instances.filter(
    (m) =>
      String(imageTypeValues(m)?.[2] ?? '')
        .trim()
        .toUpperCase() !== 'LOCALIZER',
  );
}

function holesText(slices: readonly SliceGeometryInput[]): string | undefined {
  if (slices.length < 3) return undefined;
  const s = sliceStack(slices);
  const holes = sliceHoles(
    s.distancesMm,
    s.order.map((n) => slices[n].sliceThickness ?? null),
  );
  if (holes.length === 0) return undefined;
  return (
    'Slices are missing: ' +
    holes
      .map(
        (h) =>
          `a gap of ${h.gapMm.toFixed(1)} mm after slice ${h.k + 1} (${(h.gapMm / h.medianGapMm).toFixed(1)}x the usual ${h.medianGapMm.toFixed(1)} mm)`,
      )
      .join('; ')
  );
}

export interface SeriesInfo {
  readonly displaySetInstanceUID: string;
  readonly studyInstanceUid: string | null;
  readonly seriesInstanceUid: string | null;
  readonly label: string;
  readonly modality: string;
  readonly isCt: boolean;
  readonly slices: number;
  /** Set when this product wrote the series (dicom/productOutput.ts): not offered as a source. */
  readonly productOutput: string | null;
  /** The grid, or why there is none. */
  readonly grid: SeriesGrid | { readonly error: string };
}

function toNumbers(v: readonly (number | string)[] | undefined | null): number[] | null {
  if (!v) return null;
  const out = v.map((x) => (typeof x === 'number' ? x : Number(x)));
  return out.every((x) => Number.isFinite(x)) ? out : null;
}

function toNumber(v: number | string | undefined | null): number | null {
  if (v === undefined || v === null || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

export function sliceInputs(instances: readonly InstanceMetadata[]): SliceGeometryInput[] {
  return instances.map((m, n) => ({
    imagePositionPatient: toNumbers(m.ImagePositionPatient),
    imageOrientationPatient: toNumbers(m.ImageOrientationPatient),
    pixelSpacing: toNumbers(m.PixelSpacing),
    rows: toNumber(m.Rows),
    columns: toNumber(m.Columns),
    sliceThickness: toNumber(m.SliceThickness),
    id: m.SOPInstanceUID ?? `#${n + 1}`,
  }));
}

/** The grid of a slice series from its geometry tags (see the module comment for irregular stacks). */
export function seriesGridFromInstances(instances: readonly InstanceMetadata[]): SeriesGrid {
  const images = withoutLocalizers(instances);
  const slices = sliceInputs(images);
  const holes = holesText(slices);
  // what the job's read will see on its first image (the estimate's slice model)
  const header = {
    sliceThicknessMm: toNumber(images[0]?.SliceThickness),
    imageType: imageTypeValues(images[0]),
  };
  const withHoles = { header, ...(holes ? { holes } : {}) };
  try {
    const g = regularGeometry(slices);
    return { dims: g.dims, affine: g.affine, spacingMm: spacingOf(g.affine), ...withHoles };
  } catch (e) {
    if (!(e instanceof GeometryError) || (e.code !== 'non-uniform-spacing' && e.code !== 'gantry-tilt')) {
      throw e;
    }
    // Nominal regular grid of the stack: in-plane axes, normal times the mean gap.
    const g = regularGeometry(slices, { tolerances: { spacingRelative: Infinity }, allowTilt: true });
    const s = g.stack;
    const ez = scale(s.normal, g.report.meanGapMm);
    const affine = fromColumns(
      scale(s.rowDirection, s.inPlaneSpacingMm[0]),
      scale(s.columnDirection, s.inPlaneSpacingMm[1]),
      ez,
      s.positions[0],
    );
    const why =
      e.code === 'gantry-tilt'
        ? `gantry tilt of ${g.report.tiltDeg.toFixed(1)}°`
        : `slice gaps vary (${Math.min(...s.gapsMm).toFixed(2)}–${Math.max(...s.gapsMm).toFixed(2)} mm)`;
    return {
      dims: g.dims,
      affine,
      spacingMm: spacingOf(affine),
      irregular: `${why}: the series will be resampled exactly onto a regular grid when read`,
      ...withHoles,
    };
  }
}

function modalityOf(ds: DisplaySet): string {
  return String(ds.Modality ?? ds.instances?.[0]?.Modality ?? '').toUpperCase();
}

export function seriesInfo(ds: DisplaySet): SeriesInfo {
  const modality = modalityOf(ds);
  const instances = ds.instances ?? [];
  const number = ds.SeriesNumber !== undefined && ds.SeriesNumber !== '' ? `#${ds.SeriesNumber} ` : '';
  const label = `${number}${ds.SeriesDescription || '(no description)'} — ${modality || '?'}, ${instances.length} image${instances.length === 1 ? '' : 's'}`;
  let grid: SeriesInfo['grid'];
  if (modality !== 'CT') {
    grid = { error: `the series is ${modality || 'of unknown modality'}, not CT` };
  } else if (withoutLocalizers(instances).length < DEFAULT_MIN_SLICES) {
    const k = withoutLocalizers(instances).length;
    grid = { error: `only ${k} slice${k === 1 ? '' : 's'}: a volume needs at least ${DEFAULT_MIN_SLICES}` };
  } else {
    try {
      grid = seriesGridFromInstances(instances);
    } catch (e) {
      grid = { error: (e as Error).message };
    }
  }
  return {
    productOutput: productOutputReason({
      manufacturer: instances[0]?.Manufacturer ?? null,
      seriesDescription: ds.SeriesDescription ?? null,
    }),
    displaySetInstanceUID: ds.displaySetInstanceUID,
    studyInstanceUid: ds.StudyInstanceUID ?? null,
    seriesInstanceUid: ds.SeriesInstanceUID ?? null,
    label,
    modality,
    isCt: modality === 'CT',
    slices: instances.length,
    grid,
  };
}

export function hasGrid(info: SeriesInfo): info is SeriesInfo & { grid: SeriesGrid } {
  return !('error' in info.grid);
}
