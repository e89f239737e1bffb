/**
 * Exit codes of the geometry-ldm command, and the mapping from typed errors.
 * 2 bad input (arguments, UIDs, grids, geometry, undecodable or implausible
 * data), 3 PACS (HTTP, network, refused or partial store), 4 model (files,
 * checksums, runtime), 130 cancelled, 1 a bug (anything untyped).
 *
 * Every code of every error class that can reach the CLI is mapped in a
 * Record over its code union, so a new code does not compile until it has
 * an exit code here.
 */
import type { DicomErrorCode } from '../dicom/errors';
import type { DiffusionErrorCode } from '../diffusion/errors';
import type { GeometryErrorCode } from '../geometry/errors';
import type { InferenceErrorCode } from '../inference/errors';
import type { ManifestErrorCode } from '../model/manifest';
import type { IntensityErrorCode } from '../volume/intensity';
import type { VolumeErrorCode } from '../volume/volume';

export const EXIT = { ok: 0, badInput: 2, pacs: 3, model: 4, cancelled: 130, internal: 1 } as const;
type Exit = (typeof EXIT)[keyof typeof EXIT];

export class UsageError extends Error {
  readonly code = 'usage';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const { badInput, pacs, model, internal } = EXIT;

const DICOM: Record<DicomErrorCode, Exit> = {
  'not-ct': badInput,
  'not-image': badInput,
  'multi-frame': badInput,
  'missing-geometry': badInput,
  'missing-uid': badInput,
  'mixed-series': badInput,
  'non-uniform-spacing': badInput,
  'gantry-tilt': badInput,
  'slice-gap': badInput,
  'too-few-slices': badInput,
  'invalid-rescale': badInput,
  'implausible-values': badInput,
  // the series' data is what is wrong (or unsupported), not the PACS
  'decode-failed': badInput,
  'unsupported-transfer-syntax': badInput,
  'invalid-input': badInput,
  'not-found': badInput,
  'pacs-unauthorized': pacs,
  'pacs-conflict': pacs,
  'pacs-error': pacs,
  network: pacs,
  'partial-store': pacs,
  'verify-failed': pacs,
};

const GEOMETRY: Record<GeometryErrorCode, Exit> = {
  'missing-tag': badInput,
  'contradictory-tags': badInput,
  'single-slice': badInput,
  'non-uniform-spacing': badInput,
  'gantry-tilt': badInput,
  'mixed-orientation': badInput,
  'duplicate-position': badInput,
  'misaligned-slice': badInput,
  'singular-affine': badInput,
  'invalid-spec': badInput,
};

const MANIFEST: Record<ManifestErrorCode, Exit> = {
  'invalid-json': model,
  schema: model,
  'unsupported-version': model,
  'invalid-value': model,
  'io-mismatch': model,
  'unknown-file': model,
  'size-mismatch': model,
  'sha256-mismatch': model,
  // a grid the model cannot take is the request's fault
  'unsupported-grid': badInput,
};

const INFERENCE: Record<InferenceErrorCode, Exit> = {
  'checksum-mismatch': model,
  'model-load-failed': model,
  'session-failed': model,
  'run-failed': model,
  'out-of-memory': model,
  cancelled: EXIT.cancelled,
  'invalid-input': badInput,
  'unsupported-grid': badInput,
};

const DIFFUSION: Record<DiffusionErrorCode, Exit> = {
  // schedules and plans come from the model's manifest or the CLI's validated flags
  'invalid-config': model,
  'unsupported-schedule': model,
  'invalid-timestep': badInput,
  'invalid-plan': badInput,
  'no-plan': internal,
  'timestep-not-in-plan': internal,
  'shape-mismatch': internal,
  'noise-required': internal,
  'invalid-eta': badInput,
  'invalid-seed': badInput,
};

const INTENSITY: Record<IntensityErrorCode, Exit> = { 'invalid-params': model, 'unit-mismatch': internal };
const VOLUME: Record<VolumeErrorCode, Exit> = {
  'shape-mismatch': internal,
  'invalid-grid': badInput,
  'invalid-argument': internal,
  // statistics read after they were handed over: a programming error
  finished: internal,
};

/** Error class name -> its code table (classes are told apart by name: they may cross a worker boundary). */
const BY_CLASS: Record<string, Record<string, Exit>> = {
  DicomError: DICOM,
  GeometryError: GEOMETRY,
  ManifestError: MANIFEST,
  InferenceError: INFERENCE,
  DiffusionError: DIFFUSION,
  IntensityError: INTENSITY,
  VolumeError: VOLUME,
};

export function exitCodeFor(error: unknown): number {
  const e = error as { name?: string; code?: string };
  if (e?.code === 'cancelled') return EXIT.cancelled;
  if (e instanceof UsageError) return badInput;
  const table = e?.name ? BY_CLASS[e.name] : undefined;
  if (table && e.code && table[e.code] !== undefined) return table[e.code];
  return internal;
}
