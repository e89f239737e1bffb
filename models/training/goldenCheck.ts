/**
 * Helpers for checking ONNX models against the golden inputs/outputs that
 * models/training/ldm/export.py records from PyTorch at export time.
 */
import { readFileSync } from 'node:fs';

export interface GoldenTensor {
  dtype: 'float32';
  shape: number[];
  base64: string;
}

export interface GoldenCase {
  inputs: Record<string, GoldenTensor>;
  outputs: Record<string, GoldenTensor>;
}

export interface GoldenFile {
  dims: [number, number, number];
  indexToGroup: number[];
  encoder: GoldenCase;
  decoder: GoldenCase;
  unet: GoldenCase;
}

export function readGolden(path: string): GoldenFile {
  return JSON.parse(readFileSync(path, 'utf8')) as GoldenFile;
}

/**
 * golden/unet-attention.json: the UNet on a latent grid whose bottleneck has
 * several tokens (export.py attention_golden), so the attention really mixes.
 */
export interface AttentionGoldenFile {
  dims: [number, number, number];
  indexToGroup: number[];
  latentDims: [number, number, number];
  bottleneckDims: [number, number, number];
  bottleneckTokens: number;
  attentionHeads: number;
  /** max |eps - eps with every token attending only to itself| (PyTorch) */
  maxAbsDiffSelfOnlyAttention: number;
  unet: GoldenCase;
}

export function readAttentionGolden(path: string): AttentionGoldenFile {
  return JSON.parse(readFileSync(path, 'utf8')) as AttentionGoldenFile;
}

/** golden/refiner.json: the super-resolution refiner on two planes (export.py export_refiner). */
export interface RefinerGoldenFile {
  toleranceAbs: number;
  refiner: GoldenCase;
}

export function readRefinerGolden(path: string): RefinerGoldenFile {
  return JSON.parse(readFileSync(path, 'utf8')) as RefinerGoldenFile;
}

export function decodeTensor(t: GoldenTensor): Float32Array {
  const bytes = Buffer.from(t.base64, 'base64');
  const out = new Float32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let n = 0; n < out.length; n++) out[n] = view.getFloat32(4 * n, true);
  const expected = t.shape.reduce((a, b) => a * b, 1);
  if (out.length !== expected)
    throw new Error(`golden tensor has ${out.length} values, shape needs ${expected}`);
  return out;
}

/** Minimal structural type shared by onnxruntime-node and onnxruntime-web. */
export interface OrtLike {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
}
export interface SessionLike {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
}

/** Runs one golden case; returns the max abs difference and shape per output. */
export async function checkGolden(
  ort: OrtLike,
  session: SessionLike,
  c: GoldenCase,
): Promise<Record<string, { maxAbsDiff: number; dims: number[]; expectedDims: number[]; maxAbs: number }>> {
  const feeds: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(c.inputs))
    feeds[name] = new ort.Tensor('float32', decodeTensor(t), t.shape);
  const results = await session.run(feeds);
  const report: Record<
    string,
    { maxAbsDiff: number; dims: number[]; expectedDims: number[]; maxAbs: number }
  > = {};
  for (const [name, t] of Object.entries(c.outputs)) {
    const expected = decodeTensor(t);
    const got = results[name];
    if (!got) throw new Error(`output ${name} missing`);
    const data = got.data as Float32Array;
    let m = 0;
    let maxAbs = 0;
    if (data.length !== expected.length) m = Infinity;
    else
      for (let n = 0; n < data.length; n++) {
        m = Math.max(m, Math.abs(data[n] - expected[n]));
        maxAbs = Math.max(maxAbs, Math.abs(expected[n]));
      }
    report[name] = { maxAbsDiff: m, dims: [...got.dims], expectedDims: t.shape, maxAbs };
  }
  return report;
}
