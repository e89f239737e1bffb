// Peak memory of `geometry-ldm super-resolve` against its own estimate (the number the memory
// check compares with the container's limit, cli/resources.ts): the command runs as a child
// process under /usr/bin/time -v (max RSS of the whole process: Node, onnxruntime's arena, the
// model, every buffer) against a real Orthanc holding lung-pet-ct-dx-a0001 (512 x 512 x 64,
// 5 mm slices), committed demo model, 2 threads. The estimate must not be below the peak: a
// job the check lets through must not be OOM-killed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';

// GEOMETRY_LDM_BENCH_CASES (comma list of case numbers, 1-based) runs only those.
const CASES = [
  ['AI (default), x2 slices, whole series', ['--scale', '1,1,2']],
  ['classical, x2 slices, whole series', ['--scale', '1,1,2', '--mode', 'classical']],
  [
    'AI, x2, 128 x 128 region, all slices',
    ['--scale', '2', '--region', 'x=192:320', '--region', 'y=192:320'],
  ],
  [
    'diffusion, x2, 128 x 128 x 16 region, 1 sample',
    [
      '--scale',
      '2',
      '--region',
      'x=192:320',
      '--region',
      'y=192:320',
      '--region',
      'z=24:40',
      '--mode',
      'diffusion',
      '--samples',
      '1',
      '--cycles',
      '1',
      '--steps',
      '2',
      '--std-map',
    ],
  ],
];

export default {
  name: 'cli-memory',
  description: 'geometry-ldm super-resolve: peak RSS (/usr/bin/time) vs the memory estimate the CLI checks',
  async run(ctx) {
    const { module: E } = await ctx.bundle('scripts/bench/cli-memory-entry.ts');
    const orthanc = await E.startOrthanc();
    const rows = [];
    try {
      const seeded = await E.seedSeries(E.orthancTransport(orthanc), 'lung-pet-ct-dx-a0001');
      const bin = path.join(ctx.root, 'extensions', 'geometry-ldm', 'bin', 'geometry-ldm.mjs');
      const only = process.env.GEOMETRY_LDM_BENCH_CASES?.split(',').map(Number);
      for (const [n, [label, extra]] of CASES.entries()) {
        if (only && !only.includes(n + 1)) continue;
        const args = extra;
        const out = mkdtempSync(path.join(ctx.tmpDir, 'cli-memory-'));
        const t0 = performance.now();
        const r = spawnSync(
          '/usr/bin/time',
          [
            '-v',
            process.execPath,
            bin,
            'super-resolve',
            '--pacs',
            orthanc.dicomWebRoot,
            '--study',
            seeded.studyInstanceUid,
            '--series',
            seeded.seriesInstanceUid,
            ...args,
            '--out',
            out,
            '--json',
            '--threads',
            '2',
          ],
          {
            encoding: 'utf8',
            maxBuffer: 64 * 1024 * 1024,
            env: {
              ...process.env,
              GEOMETRY_LDM_PACS_USER: orthanc.user,
              GEOMETRY_LDM_PACS_PASSWORD: orthanc.password,
            },
          },
        );
        const ms = performance.now() - t0;
        rmSync(out, { recursive: true, force: true });
        if (r.status !== 0) throw new Error(`${label}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
        const plan = r.stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l))
          .find((e) => e.type === 'plan');
        const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
        const peakMiB = rssKb / 1024;
        const estimateMiB = plan.memoryEstimateBytes / 1024 ** 2;
        rows.push({
          case: `${label}: ${plan.target.join('x')} voxels`,
          medianMs: ms,
          runsMs: [ms],
          peakMiB: Math.round(peakMiB),
          estimateMiB: Math.round(estimateMiB),
          estimateOverPeak: +(estimateMiB / peakMiB).toFixed(2),
        });
        ctx.log(
          `${label}: peak ${peakMiB.toFixed(0)} MiB, estimate ${estimateMiB.toFixed(0)} MiB, ${(ms / 1000).toFixed(0)} s`,
        );
      }
    } finally {
      await orthanc.stop();
    }
    return rows;
  },
};
