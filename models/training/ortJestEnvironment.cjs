/**
 * Jest environment for tests that use onnxruntime-node / onnxruntime-web in
 * Node: the native addon (and wasm glue) create typed arrays in Node's main
 * realm, which fail `instanceof Float32Array` inside jest's sandbox. This
 * environment hands the sandbox the main realm's typed-array constructors.
 * Use with the docblock `@jest-environment ./models/training/ortJestEnvironment.cjs`.
 */
const NodeEnvironment = require('jest-environment-node').TestEnvironment;

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
  'WebAssembly',
];

class OrtEnvironment extends NodeEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) {
      if (globalThis[name] !== undefined) this.global[name] = globalThis[name];
    }
  }
}

module.exports = OrtEnvironment;
