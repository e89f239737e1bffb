import { DicomError } from '../dicom/errors';
import { DiffusionError } from '../diffusion/errors';
import { GeometryError } from '../geometry/errors';
import { InferenceError } from '../inference/errors';
import { ManifestError } from '../model/manifest';
import { EXIT, exitCodeFor, UsageError } from './exitCodes';

test('an undecodable or unsupported series is bad input (2), not a PACS failure', () => {
  expect(exitCodeFor(new DicomError('decode-failed', 'JPEG: truncated'))).toBe(EXIT.badInput);
  expect(exitCodeFor(new DicomError('unsupported-transfer-syntax', 'no decoder'))).toBe(EXIT.badInput);
});

test('PACS, model, input and cancellation codes keep their classes', () => {
  expect(exitCodeFor(new DicomError('partial-store', 'x'))).toBe(EXIT.pacs);
  expect(exitCodeFor(new DicomError('network', 'x'))).toBe(EXIT.pacs);
  expect(exitCodeFor(new InferenceError('out-of-memory', 'x'))).toBe(EXIT.model);
  expect(exitCodeFor(new InferenceError('cancelled', 'x'))).toBe(EXIT.cancelled);
  expect(exitCodeFor(new ManifestError('sha256-mismatch', 'x'))).toBe(EXIT.model);
  expect(exitCodeFor(new ManifestError('unsupported-grid', 'x'))).toBe(EXIT.badInput);
  expect(exitCodeFor(new GeometryError('gantry-tilt', 'x'))).toBe(EXIT.badInput);
  expect(exitCodeFor(new DiffusionError('invalid-seed', 'x'))).toBe(EXIT.badInput);
  expect(exitCodeFor(new UsageError('x'))).toBe(EXIT.badInput);
});

test('anything untyped, or a code no table knows, is a bug (1), never silently a PACS error', () => {
  expect(exitCodeFor(new Error('boom'))).toBe(EXIT.internal);
  expect(exitCodeFor(new TypeError('x is undefined'))).toBe(EXIT.internal);
  expect(exitCodeFor(Object.assign(new Error('x'), { name: 'DicomError', code: 'made-up' }))).toBe(
    EXIT.internal,
  );
});
