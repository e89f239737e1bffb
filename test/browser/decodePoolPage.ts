// Page side of decodePool.test.ts: the browser decode pool and the in-place codecs.
export { createBrowserDecodePool } from '../../extensions/geometry-ldm/src/dicom/browserDecodePool';
export { pooledCodecs } from '../../extensions/geometry-ldm/src/dicom/decodePool';
export { defaultCodecs } from '../../extensions/geometry-ldm/src/dicom/codecs';
export { decodeFrame } from '../../extensions/geometry-ldm/src/dicom/decodeFrame';
