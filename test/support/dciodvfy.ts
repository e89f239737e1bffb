/** Runs dicom3tools' dciodvfy on Part 10 bytes and splits its messages into errors and warnings. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface DciodvfyResult {
  errors: string[];
  warnings: string[];
  output: string;
}

export function dciodvfy(bytes: Uint8Array): DciodvfyResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dciodvfy-'));
  const file = path.join(dir, 'instance.dcm');
  fs.writeFileSync(file, bytes);
  const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const lines = output.split('\n').map((l) => l.trim());
  return {
    errors: lines.filter((l) => /^Error/.test(l)),
    warnings: lines.filter((l) => /^Warning/.test(l)),
    output,
  };
}
