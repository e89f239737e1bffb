// The plain HTTP client that benches measure the PACS's limit with (curl; no decoding, no
// volume). Not a benchmark itself: bench.mjs loads only scripts/bench/*.mjs.
import { spawn, spawnSync } from 'node:child_process';

/** Runs curl to its end; resolves to what it printed (for -w). */
export function curl(args) {
  const r = spawnSync('curl', ['-s', '--fail', ...args], { maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`curl ${args.slice(0, 4).join(' ')} failed: ${r.status} ${r.stderr}`);
  return r.stdout.toString();
}

/** The same without blocking this process (needed when a server under test runs in it). */
export function curlAsync(args) {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-s', '--fail', ...args], { stdio: 'ignore' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`curl ${args.at(-3)}: exit ${code}`))));
  });
}
