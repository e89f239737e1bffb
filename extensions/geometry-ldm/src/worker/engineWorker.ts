/**
 * Web Worker entry of the inference engine (the bundle's entry point): the
 * engine host (engineHost.ts) on `self`, with onnxruntime-web's WebGPU build
 * (which also runs the wasm backend, for the fallback) bundled in.
 *
 * Build it as a standalone ES module worker file, e.g.
 *   esbuild extensions/geometry-ldm/src/worker/engineWorker.ts --bundle --format=esm
 *     --platform=browser --target=es2022 --conditions=onnxruntime-web-use-extern-wasm
 *     --outfile=<dist>/engineWorker.js
 * and start it with `new Worker(url, { type: 'module' })` through
 * `createEngineClient` (engineClient.ts). The `onnxruntime-web-use-extern-wasm`
 * condition keeps ort-web's wasm glue out of the bundle: at run time it loads
 * `ort-wasm-simd-threaded.asyncify.mjs` and `.wasm` from `init.wasmPaths`,
 * which is the viewer config's `ortWasmUrl` (a URL serving
 * node_modules/onnxruntime-web/dist/); the model comes from `init.manifestUrl`
 * = `<modelUrl>model.json` (see ohif/config.ts). More than one wasm thread
 * needs cross-origin isolation (COOP/COEP headers on the page).
 */
import * as ort from 'onnxruntime-web/webgpu';
import type { OrtWebModule } from '../inference/webRuntime';
import { startEngineHost, type MessageScopeLike } from './engineHost';

startEngineHost(self as unknown as MessageScopeLike, { ort: ort as unknown as OrtWebModule });
