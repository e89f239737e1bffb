/**
 * Runs dicom3tools' dciodvfy on Part 10 bytes and splits its messages into errors and warnings.
 *
 * A verdict only counts when dciodvfy really ran: a missing binary, a crash
 * (signal) or a non-zero exit that reports no Error/Abort line throws, so a
 * test can never pass because nothing was checked. (dciodvfy exits 1 when it
 * found errors; those are returned as errors, as are Abort lines.)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface DciodvfyResult {
  errors: string[];
  warnings: string[];
  output: string;
}

/** The binary: $DCIODVFY, else `dciodvfy` on the PATH. */
export const DCIODVFY_BIN = process.env.DCIODVFY ?? 'dciodvfy';

export function dciodvfy(bytes: Uint8Array, bin: string = DCIODVFY_BIN): DciodvfyResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dciodvfy-'));
  const file = path.join(dir, 'instance.dcm');
  fs.writeFileSync(file, bytes);
  const r = spawnSync(bin, [file], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `dciodvfy not found (${bin}): install dicom3tools or set DCIODVFY; nothing was validated`
        : `dciodvfy (${bin}) could not run: ${r.error.message}`,
    );
  }
  if (r.signal) throw new Error(`dciodvfy (${bin}) crashed (${r.signal}); output: ${output.slice(0, 500)}`);
  const lines = output.split('\n').map((l) => l.trim());
  // "Error - ...", "Abort - ...", and tag-prefixed "(0x0010,0x0010) ... - Error - ...".
  const errors = lines.filter((l) => /^(Error|Abort) -|\s- (Error|Abort) -/.test(l));
  if (r.status !== 0 && errors.length === 0) {
    throw new Error(
      `dciodvfy (${bin}) exited ${r.status} without reporting an error; output: ${output.slice(0, 500)}`,
    );
  }
  return {
    errors,
    warnings: lines.filter((l) => /^Warning/.test(l)),
    output,
  };
}
