/**
 * DICOMweb in and out: QIDO / WADO-RS reading into HU volumes with exact
 * geometry, client-side frame decoding, derived and synthetic CT series,
 * STOW-RS with a full report. Pure modules (browser, worker, Node); the wasm
 * codecs take their .wasm location from the caller.
 */
export * from './errors';
export * from './uids';
export * from './dicomJson';
export * from './transport';
export * from './dicomwebClientTransport';
export * from './multipart';
export * from './qido';
export * from './instanceMetadata';
export * from './decodeFrame';
export * from './codecs';
export { emscriptenCodec, type WasmLocation } from './codecs/emscriptenCodec';
export * from './readSeries';
export * from './volumeMemory';
export * from './rescale';
export * from './part10';
export * from './ctImage';
export * from './writeDerivedSeries';
export * from './writeSyntheticStudy';
export * from './stow';
export * from './uidRepair';
export * from './importFiles';
