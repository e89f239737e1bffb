/**
 * Runs the independent Python reference reader (test/reference/read_series_reference.py,
 * pydicom + system OpenJPEG) on a folder and returns its JSON (and optionally raw HU).
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const SYSTEM_PYTHON = '/usr/bin/python3';
export const REFERENCE_SCRIPT = path.resolve(__dirname, '..', 'reference', 'read_series_reference.py');

export interface ReferenceSeries {
  dims: [number, number, number];
  iop: number[];
  pixelSpacing: [number, number];
  transferSyntax: string;
  decoder: string;
  slices: {
    file: string;
    ipp: [number, number, number];
    min: number;
    max: number;
    sum: number;
    centre: number;
  }[];
  sliceSha256: string[];
  volumeSha256: string;
  /** Float32 HU of the sorted slices, when asked for. */
  raw?: Float32Array;
}

export function readReference(dir: string, withRaw = false): ReferenceSeries {
  const rawPath = withRaw ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ref-')), 'hu.f32') : null;
  const out = execFileSync(SYSTEM_PYTHON, [REFERENCE_SCRIPT, dir, ...(rawPath ? ['--raw', rawPath] : [])], {
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
  });
  const ref = JSON.parse(out) as ReferenceSeries;
  if (rawPath) {
    const buf = fs.readFileSync(rawPath);
    ref.raw = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    fs.rmSync(path.dirname(rawPath), { recursive: true, force: true });
  }
  return ref;
}

export function sha256(data: Float32Array | Uint8Array): string {
  return crypto
    .createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}
