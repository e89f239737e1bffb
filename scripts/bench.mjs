// Benchmark runner for `npm run bench`.
//
// A small registry: every scripts/bench/*.mjs module is a benchmark. It
// default-exports { name, description, run(ctx) } where run resolves to an
// array of result rows { case, medianMs, runsMs, ...extra }. The runner runs
// them in file-name order, prints one table and writes
// test-artifacts/bench/<name>.json per benchmark plus test-artifacts/bench/latest.json.
//
// Usage: npm run bench [-- <name> ...] [-- --runs N]
//   names select benchmarks by `name` (default: all); --runs overrides the
//   number of timed runs each benchmark asks ctx.time for (default 5).
//
// ctx (what a benchmark gets):
//   ctx.bundle(entry)       bundles TypeScript with esbuild into a temp .mjs and imports it.
//                           entry: a path relative to the repo root, or { contents, resolveDir }
//                           (TypeScript source). Resolves to { module, file } (file: for worker_threads).
//   ctx.bundleFile(entry)   the same, without importing (for worker entries).
//   ctx.time(fn, opts)      runs `await fn()` opts.warmup (default 1) times untimed, then
//                           opts.runs (default 5, or --runs) times; resolves to { medianMs, runsMs }.
//                           opts.ownClock: fn resolves to its own duration in ms, used instead of
//                           the time around it (work timed where it runs, e.g. support/curl.mjs).
//   ctx.root, ctx.tmpDir, ctx.log(...), ctx.runs (--runs or undefined)
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = path.join(root, 'scripts', 'bench');
const outDir = path.join(root, 'test-artifacts', 'bench');

function parseArgs(argv) {
  const names = [];
  let runs;
  for (let n = 0; n < argv.length; n++) {
    if (argv[n] === '--runs') runs = Number(argv[++n]);
    else if (argv[n].startsWith('--runs=')) runs = Number(argv[n].slice('--runs='.length));
    else names.push(argv[n]);
  }
  if (runs !== undefined && !(Number.isInteger(runs) && runs > 0))
    throw new Error('--runs needs a positive integer');
  return { names, runs };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// One count for the whole run: every bench's context writes bundles into the same folder, and
// Node caches imports by file name (a count per bench made the second bench import the first's).
let counter = 0;

function makeContext(tmpDir, defaultRuns) {
  async function bundleFile(entry) {
    const options = {
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      // native addon and tool packages: loaded from node_modules at run time, never bundled
      external: ['onnxruntime-node', 'playwright-core', 'esbuild'],
    };
    if (typeof entry === 'string') options.entryPoints = [path.resolve(root, entry)];
    else options.stdin = { contents: entry.contents, resolveDir: entry.resolveDir ?? root, loader: 'ts' };
    const result = await build(options);
    const file = path.join(tmpDir, `bundle-${counter++}.mjs`);
    writeFileSync(file, result.outputFiles[0].text);
    return file;
  }
  return {
    root,
    tmpDir,
    runs: defaultRuns, // --runs, when given
    median, // of runs a bench times itself (in a browser, another process)
    log: (...args) => console.log('   ', ...args),
    bundleFile,
    async bundle(entry) {
      const file = await bundleFile(entry);
      return { module: await import(pathToFileURL(file).href), file };
    },
    async time(fn, opts = {}) {
      const runs = defaultRuns ?? opts.runs ?? 5;
      for (let n = 0; n < (opts.warmup ?? 1); n++) await fn();
      const runsMs = [];
      for (let n = 0; n < runs; n++) {
        const t0 = performance.now();
        const own = await fn();
        const ms = performance.now() - t0;
        if (opts.ownClock && !(typeof own === 'number' && own >= 0))
          throw new Error(`ctx.time with ownClock: the function resolved to ${own}, not a duration in ms`);
        runsMs.push(opts.ownClock ? own : ms);
      }
      return { medianMs: median(runsMs), runsMs };
    },
  };
}

function printTable(rows) {
  const header = ['benchmark', 'case', 'median ms', 'min ms', 'max ms', 'runs'];
  const lines = rows.map((r) => [
    r.bench,
    r.case,
    r.medianMs.toFixed(1),
    Math.min(...r.runsMs).toFixed(1),
    Math.max(...r.runsMs).toFixed(1),
    String(r.runsMs.length),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const fmt = (cells) =>
    cells.map((x, c) => (c >= 2 ? x.padStart(widths[c]) : x.padEnd(widths[c]))).join('  ');
  console.log('');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
  console.log('');
}

async function main() {
  const { names, runs } = parseArgs(process.argv.slice(2));
  const files = readdirSync(benchDir)
    .filter((f) => f.endsWith('.mjs'))
    .sort();
  const benches = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(benchDir, f)).href)).default;
    if (!mod || typeof mod.name !== 'string' || typeof mod.run !== 'function') {
      throw new Error(`scripts/bench/${f} must default-export { name, run(ctx) }`);
    }
    benches.push(mod);
  }
  const unknown = names.filter((n) => !benches.some((b) => b.name === n));
  if (unknown.length)
    throw new Error(
      `unknown benchmark(s): ${unknown.join(', ')}; have ${benches.map((b) => b.name).join(', ')}`,
    );
  const selected = names.length ? benches.filter((b) => names.includes(b.name)) : benches;

  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
  mkdirSync(outDir, { recursive: true });
  // Inside the repository so that bundles resolve external packages (onnxruntime-node) from node_modules.
  mkdirSync(path.join(root, '.tmp'), { recursive: true });
  const tmpDir = mkdtempSync(path.join(root, '.tmp', 'bench-'));
  const all = [];
  try {
    for (const b of selected) {
      console.log(`${b.name}: ${b.description ?? ''}`);
      const ctx = makeContext(tmpDir, runs);
      const results = await b.run(ctx);
      const rows = results.map((r) => ({ bench: b.name, ...r }));
      all.push(...rows);
      writeFileSync(
        path.join(outDir, `${b.name}.json`),
        JSON.stringify({ name: b.name, description: b.description, environment, results }, null, 2) + '\n',
      );
    }
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
  printTable(all);
  writeFileSync(
    path.join(outDir, 'latest.json'),
    JSON.stringify({ environment, results: all }, null, 2) + '\n',
  );
  console.log(`wrote ${path.relative(root, outDir)}/`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
