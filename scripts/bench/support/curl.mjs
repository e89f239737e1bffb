// The plain HTTP client that benches measure the PACS's limit with (curl; no decoding, no
// volume). Not a benchmark itself: bench.mjs loads only scripts/bench/*.mjs.
//
// Time curl where it runs, not around the spawn: starting a child forks this Node process, and
// the fork copies its page tables, so the spawn costs more the more memory the bench holds
// (2026-12-06: 3-6 ms from a small process, 47 ms from one holding 1.1 GB). Timed from this
// side, the limits of the series a bench measures later (after larger ones were read) grew by
// tens of ms and flattered the product's ratio to them. timedCurl's clock starts in a small
// shell just before curl starts, so it still includes starting curl (a few ms), as before.
import { spawn, spawnSync } from 'node:child_process';

/** Runs curl to its end; resolves to what it printed (for -w). */
export function curl(args) {
  const r = spawnSync('curl', ['-s', '--fail', ...args], { maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`curl ${args.slice(0, 4).join(' ')} failed: ${r.status} ${r.stderr}`);
  return r.stdout.toString();
}

// $1.. are curl's arguments; the two clock readings go to stderr's last line
const TIMED =
  't0=$(date +%s%N); curl -s --fail "$@"; s=$?; t1=$(date +%s%N); echo "elapsed-ns $((t1 - t0))" >&2; exit $s';

/**
 * Runs curl (without blocking this process) and resolves to its duration in ms as a small shell
 * measured it around curl alone (see above). Several transfers at once: one curl with `-Z`
 * (--parallel) and `--next` between them (give `--fail` again after each `--next`).
 */
export function timedCurl(args) {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', TIMED, 'sh', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    // 'close': after stderr has been read to its end (not just the exit)
    p.on('close', (code) => {
      const m = /elapsed-ns (\d+)\s*$/.exec(err);
      if (code !== 0 || !m)
        reject(new Error(`curl ${args.slice(0, 4).join(' ')}: exit ${code} ${err.trim()}`));
      else resolve(Number(m[1]) / 1e6);
    });
  });
}
