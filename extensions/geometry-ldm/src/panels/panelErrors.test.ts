import { DicomError } from '../dicom/errors';
import { InferenceError } from '../inference/errors';
import { ManifestError } from '../model/manifest';
import { errorFromPayload, errorToPayload } from '../worker/protocol';
import { describeError } from './panelErrors';

describe('errors in plain words', () => {
  it('non-CT series', () => {
    const n = describeError(new DicomError('not-ct', 'the series is MR'), 'read-series');
    expect(n).toMatchObject({ kind: 'error', title: 'Not a CT series' });
    expect(n.message).toMatch(/Choose a CT image series/);
  });

  it('model failed to load, also after crossing the worker boundary', () => {
    const e = new InferenceError('model-load-failed', 'could not fetch unet.onnx: HTTP 404');
    expect(describeError(errorFromPayload(errorToPayload(e)), 'load-model')).toMatchObject({
      title: 'The model failed to load',
      message: 'could not fetch unet.onnx: HTTP 404',
    });
    expect(describeError(new ManifestError('schema', 'bad'), 'load-model').title).toBe(
      'The model failed to load',
    );
    expect(describeError(new InferenceError('session-failed', 'x'), 'load-model').title).toBe(
      'The model failed to load',
    );
  });

  it('PACS refused the upload (only when saving)', () => {
    const e = new DicomError('pacs-unauthorized', 'STOW: the PACS refused the credentials (HTTP 401)');
    expect(describeError(e, 'save').title).toBe('The PACS refused the upload');
    expect(describeError(e, 'save').message).not.toMatch(/Save again/); // the same credentials fail again
    const partial = describeError(new DicomError('partial-store', 'series 1.2: 3 of 40 stored'), 'save');
    expect(partial.title).toBe('The upload was not completed');
    expect(partial.message).toMatch(/Press Save again to store the missing images into the same series/);
    expect(describeError(e, 'read-series').title).toBe('Could not read from the PACS');
  });

  it('out of memory suggests tiling and wasm, typed or from the browser', () => {
    for (const e of [
      new InferenceError('out-of-memory', 'webgpu buffer too large'),
      new RangeError('Array buffer allocation failed'),
      errorFromPayload(errorToPayload(new InferenceError('out-of-memory', 'oom'))),
    ]) {
      const n = describeError(e, 'run');
      expect(n.title).toBe('Out of memory');
      expect(n.message).toMatch(/tiling the decoder/);
      expect(n.message).toMatch(/wasm backend/);
    }
  });

  it('cancellation is not an error', () => {
    expect(describeError(new InferenceError('cancelled', 'the job was cancelled'), 'run').kind).toBe(
      'cancelled',
    );
  });

  it('anything else keeps its message under a title for the context', () => {
    expect(describeError(new Error('boom'), 'save')).toEqual({
      kind: 'error',
      title: 'Saving failed',
      message: 'boom',
    });
    expect(describeError(new InferenceError('invalid-input', 'bad t'), 'run').title).toBe('Invalid settings');
  });
});
