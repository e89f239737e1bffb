/** Locates the Python that has torch (Debian's /usr/bin/python3 here). */
import { spawnSync } from 'node:child_process';

let cached: string | null | undefined;

export function pythonWithTorch(): string | null {
  if (cached !== undefined) return cached;
  const candidates = [process.env.LDM_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[];
  cached = null;
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (r.status === 0) {
      cached = py;
      break;
    }
  }
  return cached;
}
