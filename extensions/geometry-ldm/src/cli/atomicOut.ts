/**
 * --out without half-written results: everything is written into a temporary folder beside
 * the targets (same file system), and only when all of it is there are the entries renamed
 * into place (an entry from an earlier run is replaced). A failure (a full disk, Ctrl-C, a
 * crash of the writer) leaves the --out folder as it was, plus nothing: the temporary folder
 * is removed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const PARTIAL_PREFIX = '.geometry-ldm-partial-';

export function writeOutAtomically(outDir: string, write: (tmpDir: string) => void): void {
  mkdirSync(outDir, { recursive: true });
  const tmp = join(outDir, `${PARTIAL_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  try {
    write(tmp);
    for (const name of readdirSync(tmp)) {
      const target = join(outDir, name);
      if (existsSync(target)) {
        const old = join(tmp, `.replaced-${name}`);
        renameSync(target, old);
      }
      renameSync(join(tmp, name), target);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
