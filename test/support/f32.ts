/** Float32 files written by the Python references, and how far two arrays differ. */
import { readFileSync } from 'node:fs';

/** A raw little-endian float32 file as an array. */
export function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Max and mean absolute difference (Infinity when the lengths differ). */
export function absDiff(a: Float32Array, b: Float32Array): { max: number; mean: number } {
  if (a.length !== b.length) return { max: Infinity, mean: Infinity };
  let max = 0;
  let sum = 0;
  for (let n = 0; n < a.length; n++) {
    const d = Math.abs(a[n] - b[n]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}
