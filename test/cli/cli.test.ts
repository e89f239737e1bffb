/**
 * The geometry-ldm command against a real Orthanc (authentication on) with the
 * committed demo model on tiny grids: every command, QIDO + dciodvfy on what it
 * stored, kill-and-resume, sharding, and bad input that must write nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { buildSyntheticStudy } from '../../extensions/geometry-ldm/src/dicom/writeSyntheticStudy';
import { readPart10Raw, writePart10Raw } from '../../extensions/geometry-ldm/src/dicom/part10';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import { searchSeries, searchStudies } from '../../extensions/geometry-ldm/src/dicom/qido';
import type { Volume } from '../../extensions/geometry-ldm/src/volume/volume';
import { readSeriesHeaders } from '../support/sharedData';
import { realCrop } from '../support/realCrop';
import { seedSeries, seriesDir, type SeededSeries } from '../support/seed';
import { readReference } from '../support/reference';
import { uploadCopy } from '../support/uploadCopy';
import { freePort, startOrthanc, type OrthancInstance } from '../support/orthanc';
import { orthancCounts, orthancTransport } from '../support/dicomweb';
import { dciodvfy } from '../support/dciodvfy';
import { startFaultProxy } from '../support/faultProxy';
import { demoModel } from '../support/demoModel';
import type { ExportedModel } from '../support/tinyModel';
import dcmjs from 'dcmjs';

const BIN = resolve(__dirname, '..', '..', 'extensions', 'geometry-ldm', 'bin', 'geometry-ldm.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  events: Array<Record<string, unknown>>;
}

let orthanc: OrthancInstance;
let model: ExportedModel;
let work: string;

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GEOMETRY_LDM_PACS_USER: orthanc.user,
    GEOMETRY_LDM_PACS_PASSWORD: orthanc.password,
    OMP_NUM_THREADS: '1',
  };
}

/** The naturalized dataset of Part 10 bytes the CLI wrote. */
function dicomHeader(bytes: Buffer): ReturnType<typeof dcmjs.data.DicomMetaDictionary.naturalizeDataset> {
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(
    dcmjs.data.DicomMessage.readFile(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    ).dict,
  );
}

function cli(args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args, '--json', '--threads', '1'], {
    encoding: 'utf8',
    env: env(),
  });
  const events = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, events };
}

/** Like cli(), but leaves the event loop free (an in-process fault proxy must answer meanwhile). */
function cliAsync(args: string[]): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json', '--threads', '1'], { env: env() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('close', (code) =>
      done({
        code,
        stdout,
        stderr,
        events: stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l)),
      }),
    );
  });
}

/** Instances Orthanc's own REST API lists for a series (0 when it has none). */
async function orthancSeriesInstances(seriesInstanceUid: string): Promise<number> {
  const auth = { authorization: orthanc.authorization };
  const res = await fetch(`${orthanc.url}/tools/lookup`, {
    method: 'POST',
    headers: auth,
    body: seriesInstanceUid,
  });
  const series = ((await res.json()) as { ID: string; Type: string }[]).find((f) => f.Type === 'Series');
  if (!series) return 0;
  const s = (await (await fetch(`${orthanc.url}/series/${series.ID}`, { headers: auth })).json()) as {
    Instances: string[];
  };
  return s.Instances.length;
}

/** A small real CT series (a 64 x 64 x 16 crop of lung-pet-ct-dx-a0002), stored as a CT study to super-resolve. */
async function seedSmallCt(): Promise<{ study: string; series: string; volume: Volume }> {
  const volume = realCrop([200, 180, 7], [64, 64, 16]);
  const built = buildSyntheticStudy({
    volume,
    generation: {
      grid: [64, 64, 16],
      spacingMm: [],
      fov: null,
      rotationDeg: [],
      seed: 'crop',
      sampler: null,
      model: { name: 'crop of real CT', version: '-' },
    },
    studyDescription: 'CLI test source (crop of Lung-PET-CT-Dx A0002)',
  });
  // Real CT written with the product's writer for convenience: relabelled as the scanner series
  // it was cropped from, so that the product does not (rightly) refuse it as its own output.
  const instances = built.series.instances.map((i) => {
    const { dict, transferSyntaxUid } = readPart10Raw(i.bytes);
    dict['00080070'] = { vr: 'LO', Value: ['SIEMENS'] };
    dict['0008103E'] = { vr: 'LO', Value: ['crop of Lung-PET-CT-Dx A0002'] };
    return { ...i, bytes: writePart10Raw(dict, transferSyntaxUid) };
  });
  const report = await stowInstances(orthancTransport(orthanc), instances);
  expect(report.notStored).toEqual([]);
  return { study: built.series.studyInstanceUid, series: built.series.seriesInstanceUid, volume };
}

beforeAll(async () => {
  orthanc = await startOrthanc();
  model = demoModel();
  work = mkdtempSync(join(tmpdir(), 'gldm-cli-'));
}, 180000);

afterAll(async () => {
  await orthanc?.stop();
  model?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('models', () => {
  it('info prints the model card', () => {
    const r = cli(['models', 'info', model.dir]);
    expect(r.code).toBe(0);
    expect(r.events[0]).toMatchObject({
      type: 'model',
      name: model.manifest.name,
      version: model.manifest.version,
      intendedUse: 'research, not for diagnosis',
    });
  });

  it('verify checks every file and runs a smoke inference', () => {
    const r = cli(['models', 'verify', model.dir]);
    expect(r.code).toBe(0);
    // encoder, decoder, unet and the super-resolution refiner
    expect(r.events.filter((e) => e.type === 'checksum').map((e) => e.part)).toEqual([
      'encoder',
      'decoder',
      'unet',
      'refiner',
    ]);
    expect(r.events.find((e) => e.type === 'smoke')).toMatchObject({ ok: true });
  });

  it('verify fails with the model exit code on a corrupted file', () => {
    const bad = join(work, 'bad-model');
    cpSync(model.dir, bad, { recursive: true });
    const f = join(bad, 'unet.onnx');
    const bytes = readFileSync(f);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(f, bytes);
    const r = cli(['models', 'verify', bad]);
    expect(r.code).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/sha256/);
  });
});

describe('generate', () => {
  const base = (extra: string[]) => [
    'generate',
    '--pacs',
    orthanc.dicomWebRoot,
    '--grid',
    '32,32,32',
    '--spacing',
    '4,4,4',
    '--steps',
    '2',
    '--model',
    model.dir,
    ...extra,
  ];

  it('stores synthetic studies that pass dciodvfy and QIDO finds', async () => {
    const out = join(work, 'gen-a');
    // z: 31 voxel gaps x 4 mm = 124 mm = 0.42 of the demo model's 293.3 mm reference extent.
    const r = cli(
      base([
        '--count',
        '2',
        '--seed',
        'a',
        '--stow',
        '--out',
        out,
        '--rotate',
        'z=20',
        '--fov',
        'z=0.55:0.97',
      ]),
    );
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const items = r.events.filter((e) => e.type === 'item');
    expect(items).toHaveLength(2);
    const transport = orthancTransport(orthanc);
    for (const item of items) {
      const series = await searchSeries(transport, item.studyInstanceUid as string);
      expect(series).toHaveLength(1);
      expect(series[0].numberOfInstances).toBe(32);
    }
    const dir = items[0].out as string;
    const files = readdirSync(dir);
    expect(files).toHaveLength(32);
    for (const f of [files[0], files[16]]) {
      const v = dciodvfy(readFileSync(join(dir, f)));
      expect(v.errors).toEqual([]);
    }
    expect(existsSync(`${dir}.nii`)).toBe(true);
  });

  it('refuses a --fov range that --grid x --spacing cannot span: one line naming a spacing that fits, nothing written', async () => {
    const before = await orthancCounts(orthanc);
    const out = join(work, 'fov-vs-spacing');
    const r = cli(base(['--fov', 'z=0.2:0.9', '--stow', '--out', out]));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /--fov z=0.2:0.9 spans 205.31 mm \(of the model's 293.3 mm\) but 32 voxels at 4 mm span 124 mm: use --spacing 4,4,6.623/,
    );
    expect(existsSync(out)).toBe(false);
    expect(await orthancCounts(orthanc)).toEqual(before);
    // The spacing it names does fit.
    const spacing = /use --spacing (\S+),/.exec(r.stderr)?.[1] as string;
    const ok = cli(
      base(['--fov', 'z=0.2:0.9', '--out', out]).map((a, n, all) =>
        all[n - 1] === '--spacing' ? spacing : a,
      ),
    );
    expect(ok.code).toBe(0);
  });

  it('resumes a killed batch: exactly the requested count, no duplicates', async () => {
    const job = join(work, 'resume-job.json');
    const args = base([
      '--count',
      '3',
      '--seed',
      'resume',
      '--stow',
      '--job',
      job,
      '--json',
      '--threads',
      '1',
    ]);
    const before = await orthancCounts(orthanc);
    // First run: kill it as soon as the first item is stored.
    await new Promise<void>((done) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: env() });
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += String(d);
        if (/"type":"item"/.test(buf)) child.kill('SIGKILL');
      });
      child.on('exit', () => done());
    });
    const first = JSON.parse(readFileSync(job, 'utf8'));
    expect(Object.keys(first.items).length).toBeGreaterThanOrEqual(1);
    expect(Object.keys(first.items).length).toBeLessThan(3);
    const r = cli(args);
    expect(r.code).toBe(0);
    expect(r.events.filter((e) => e.type === 'skipped').length).toBe(Object.keys(first.items).length);
    const final = JSON.parse(readFileSync(job, 'utf8'));
    expect(Object.keys(final.items).sort()).toEqual(['0', '1', '2']);
    const transport = orthancTransport(orthanc);
    const studies = new Set<string>();
    for (const item of Object.values(final.items) as Array<{ studyInstanceUid: string }>) {
      const found = await searchStudies(transport, { StudyInstanceUID: item.studyInstanceUid });
      expect(found).toHaveLength(1);
      const series = await searchSeries(transport, item.studyInstanceUid);
      expect(series.map((s) => s.numberOfInstances)).toEqual([32]);
      studies.add(item.studyInstanceUid);
    }
    expect(studies.size).toBe(3);
    // No orphans: the PACS gained exactly the batch (its own statistics, and QIDO over the batch's patients).
    const after = await orthancCounts(orthanc);
    expect({
      studies: after.studies - before.studies,
      instances: after.instances - before.instances,
    }).toEqual({
      studies: 3,
      instances: 3 * 32,
    });
    const batchId = String(r.events.find((e) => e.type === 'batch')?.batchId);
    const batch = await searchStudies(transport, {
      PatientID: `SYNTH-${batchId.slice(0, 8)}-*`,
      includefield: '00201208',
    });
    expect(batch.map((s) => s.studyInstanceUid).sort()).toEqual([...studies].sort());
    expect(batch.map((s) => s.json['00201208']?.Value?.[0])).toEqual([32, 32, 32]);
  });

  it('a rerun with --out --stow after an --out run stores the written files, generating nothing', async () => {
    const out = join(work, 'out-then-stow');
    const args = base(['--count', '2', '--seed', 'out-then-stow', '--out', out]);
    const first = cli(args);
    expect(first.code).toBe(0);
    expect(first.events.filter((e) => e.type === 'item').map((e) => e.stored)).toEqual([false, false]);
    const before = await orthancCounts(orthanc);
    const second = cli([...args, '--stow']);
    expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
    const items = second.events.filter((e) => e.type === 'item');
    expect(items.map((e) => [e.index, e.stored, e.from])).toEqual([
      [0, true, 'files'],
      [1, true, 'files'],
    ]);
    expect(second.events.filter((e) => e.type === 'progress')).toEqual([]); // no model call
    const after = await orthancCounts(orthanc);
    expect({
      studies: after.studies - before.studies,
      instances: after.instances - before.instances,
    }).toEqual({
      studies: 2,
      instances: 2 * 32,
    });
    // What the PACS holds is byte for byte the files of the first run (Orthanc's own REST API).
    const auth = { authorization: orthanc.authorization };
    for (const item of items) {
      const series = await searchSeries(orthancTransport(orthanc), item.studyInstanceUid as string);
      expect(series.map((s) => [s.seriesInstanceUid, s.numberOfInstances])).toEqual([
        [item.seriesInstanceUid, 32],
      ]);
      const file = readFileSync(join(item.out as string, '0001.dcm'));
      const sop = dicomHeader(file).SOPInstanceUID as string;
      const found = (await (
        await fetch(`${orthanc.url}/tools/lookup`, { method: 'POST', headers: auth, body: sop })
      ).json()) as Array<{ ID: string }>;
      expect(found).toHaveLength(1);
      const stored = Buffer.from(
        await (await fetch(`${orthanc.url}/instances/${found[0].ID}/file`, { headers: auth })).arrayBuffer(),
      );
      expect(stored.equals(file)).toBe(true);
    }
    // Both destinations are complete now: a third run does nothing.
    const third = cli([...args, '--stow']);
    expect(third.code).toBe(0);
    expect(third.events.filter((e) => e.type === 'skipped')).toHaveLength(2);
    expect(await orthancCounts(orthanc)).toEqual(after);
  });

  it('a rerun that adds --out to a stored batch writes the files and stores nothing again', async () => {
    const job = join(work, 'stow-then-out.json');
    const out = join(work, 'stow-then-out');
    const args = base(['--count', '1', '--seed', 'stow-then-out', '--stow', '--job', job]);
    expect(cli(args).code).toBe(0);
    const before = await orthancCounts(orthanc);
    const r = cli([...args, '--out', out]);
    expect(r.code).toBe(0);
    const items = r.events.filter((e) => e.type === 'item');
    expect(items).toHaveLength(1);
    expect(readdirSync(items[0].out as string)).toHaveLength(32);
    expect(existsSync(`${items[0].out}.nii`)).toBe(true);
    expect(await orthancCounts(orthanc)).toEqual(before);
    const rec = JSON.parse(readFileSync(job, 'utf8'));
    expect(rec.items['0'].writtenTo).toEqual([items[0].out]);
    expect(rec.items['0'].storedTo).toEqual([orthanc.dicomWebRoot.replace(/\/+$/, '')]);
  });

  it('three shards produce exactly the items of one unsharded run', () => {
    const common = ['--count', '5', '--seed', 'shards', '--batch-id', 'b-shards'];
    const whole = cli(
      [...base(common), '--out', join(work, 'whole')].filter(
        (a) => a !== '--pacs' && a !== orthanc.dicomWebRoot,
      ),
    );
    expect(whole.code).toBe(0);
    const shardItems: Array<Record<string, unknown>> = [];
    for (let s = 0; s < 3; s++) {
      const r = cli(
        [...base(common), '--out', join(work, `shard${s}`), '--shard', `${s}/3`].filter(
          (a) => a !== '--pacs' && a !== orthanc.dicomWebRoot,
        ),
      );
      expect(r.code).toBe(0);
      shardItems.push(...r.events.filter((e) => e.type === 'item'));
    }
    const key = (e: Record<string, unknown>) =>
      `${e.index}:${e.seed}:${e.studyInstanceUid}:${e.seriesInstanceUid}`;
    const wholeItems = whole.events.filter((e) => e.type === 'item');
    expect(shardItems.map(key).sort()).toEqual(wholeItems.map(key).sort());
    expect(new Set(shardItems.map((e) => e.index)).size).toBe(5);
    // Same images, byte for byte (the NIfTI copies).
    const hash = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    for (const e of wholeItems) {
      const name = `item-${String(e.index).padStart(5, '0')}.nii`;
      const shard = Number(e.index) % 3;
      expect(hash(join(work, `shard${shard}`, name))).toBe(hash(join(work, 'whole', name)));
    }
  });
});

describe('--device', () => {
  // The CUDA provider is not in the onnxruntime-node npm package (ONNXRUNTIME_NODE_INSTALL=cuda12 downloads it).
  const cudaInstalled = existsSync(
    join(
      dirname(require.resolve('onnxruntime-node')),
      '..',
      'bin',
      'napi-v6',
      process.platform,
      process.arch,
      'libonnxruntime_providers_cuda.so',
    ),
  );

  it('cpu runs the model', () => {
    const out = join(work, 'device-cpu');
    const r = cli([
      'generate',
      '--grid',
      '32,32,32',
      '--steps',
      '1',
      '--model',
      model.dir,
      '--device',
      'cpu',
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.events.find((e) => e.type === 'batch')).toMatchObject({ device: 'cpu' });
    expect(r.events.filter((e) => e.type === 'item')).toHaveLength(1);
  });

  (cudaInstalled ? it.skip : it)(
    'cuda without the CUDA provider: one line naming what is missing, model exit code, nothing written',
    () => {
      const out = join(work, 'device-cuda');
      const r = cli([
        'generate',
        '--grid',
        '32,32,32',
        '--steps',
        '1',
        '--model',
        model.dir,
        '--device',
        'cuda',
        '--out',
        out,
      ]);
      expect(r.code).toBe(4);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/--device cuda: .*CUDA provider.*ONNXRUNTIME_NODE_INSTALL=cuda12/);
      expect(existsSync(out)).toBe(false);
    },
  );

  it('refuses an unknown device', () => {
    const r = cli(['models', 'verify', model.dir, '--device', 'tpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--device must be cpu or cuda/);
  });
});

describe('super-resolve', () => {
  let src: { study: string; series: string; volume: Volume };
  beforeAll(async () => {
    src = await seedSmallCt();
  }, 60000);
  /** super-resolve of `series` of the small CT's study with the test model, then `extra`. */
  const srArgsFor = (series: string, ...extra: string[]) => [
    'super-resolve',
    '--pacs',
    orthanc.dicomWebRoot,
    '--study',
    src.study,
    '--series',
    series,
    '--model',
    model.dir,
    ...extra,
  ];
  /** The same for the small CT series itself. */
  const srArgs = (...extra: string[]) => srArgsFor(src.series, ...extra);

  it('writes the result and the std map as two derived series in the same study', async () => {
    const before = await orthancCounts(orthanc);
    const out = join(work, 'sr');
    const r = cli([
      'super-resolve',
      '--pacs',
      orthanc.dicomWebRoot,
      '--study',
      src.study,
      '--scale',
      '2',
      '--samples',
      '2',
      '--cycles',
      '1',
      '--steps',
      '2',
      '--std-map',
      '--model',
      model.dir,
      '--stow',
      '--out',
      out,
    ]);
    expect(r.stderr).not.toMatch(/Error:/);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const after = await orthancCounts(orthanc);
    expect(after.series - before.series).toBe(2);
    expect(after.instances - before.instances).toBe(2 * 32);
    const series = await searchSeries(orthancTransport(orthanc), src.study);
    expect(series).toHaveLength(3);
    for (const dir of ['super-resolved', 'uncertainty']) {
      const files = readdirSync(join(out, dir));
      expect(files).toHaveLength(32);
      expect(dciodvfy(readFileSync(join(out, dir, files[5]))).errors).toEqual([]);
    }
  });

  it('a PACS that stops answering mid-STOW: exit 3 naming the series and what the PACS holds; the same command with --job completes that series', async () => {
    const proxy = await startFaultProxy(orthanc.url);
    try {
      const job = join(work, 'sr-job', 'job.json');
      const args = [
        'super-resolve',
        '--pacs',
        `${proxy.url}/dicom-web`,
        '--study',
        src.study,
        '--series',
        src.series,
        '--scale',
        '2',
        '--mode',
        'classical',
        '--model',
        model.dir,
        '--stow',
        '--stow-batch',
        '8',
        '--job',
        job,
      ];
      const seriesBefore = (await searchSeries(orthancTransport(orthanc), src.study)).length;
      // every STOW request after the first is cut off mid-body (the PACS "dies")
      proxy.setRule((r) =>
        r.method === 'POST' && r.index >= 1 ? { kind: 'drop-mid-request' } : { kind: 'pass' },
      );
      const first = await cliAsync(args);
      expect(first.code).toBe(3);
      const recorded = JSON.parse(readFileSync(job, 'utf8'));
      const uid = recorded.series[0].seriesInstanceUid as string;
      expect(first.stderr.trim().split('\n')).toHaveLength(1);
      expect(first.stderr).toContain(`series ${uid}: the PACS holds 8 of 32 instances (counted by QIDO)`);
      expect(first.stderr).toMatch(
        /rerun the same command \(--job .*job\.json\) to store the missing instances/,
      );
      // the STOW stopped at the dead batches in flight (two by default, each with its retries);
      // the fourth batch was not sent
      expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(1 + 2 * 4);
      expect(await orthancSeriesInstances(uid)).toBe(8); // Orthanc's own index agrees
      expect(readdirSync(`${job}.d/result`)).toHaveLength(32);

      // the PACS is back: the same command stores the 24 missing instances into the SAME series
      proxy.setRule(() => ({ kind: 'pass' }));
      const posts = proxy.log.filter((r) => r.method === 'POST').length;
      const second = await cliAsync(args);
      expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
      expect(
        second.events.some(
          (e) =>
            e.type === 'info' &&
            /storing the staged series .*\(nothing is computed again\)/.test(String(e.message)),
        ),
      ).toBe(true);
      expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(posts + 3); // 24 instances / 8
      expect(await orthancSeriesInstances(uid)).toBe(32);
      expect((await searchSeries(orthancTransport(orthanc), src.study)).length).toBe(seriesBefore + 1);
      expect(existsSync(`${job}.d`)).toBe(false); // staged files go once the PACS holds them

      // once more: nothing to do, nothing sent
      const third = await cliAsync(args);
      expect(third.code).toBe(0);
      expect(third.events.some((e) => e.type === 'info' && /already stored/.test(String(e.message)))).toBe(
        true,
      );
      expect(proxy.log.filter((r) => r.method === 'POST')).toHaveLength(posts + 3);
      // README's "Removing a partial series" recipe, run as written (host and credentials filled in)
      const readme = readFileSync(resolve(__dirname, '..', '..', 'README.md'), 'utf8');
      const recipe = /Removing a partial series[\s\S]*?```bash\n([\s\S]*?)```/
        .exec(readme)![1]
        .replaceAll("alice:'...'", `'${orthanc.user}:${orthanc.password}'`)
        .replaceAll('http://127.0.0.1:8042', orthanc.url)
        .replaceAll('<SeriesInstanceUID>', uid);
      const removed = spawnSync('bash', ['-euo', 'pipefail', '-c', recipe], { encoding: 'utf8' });
      expect(removed.status).toBe(0);
      expect(await orthancSeriesInstances(uid)).toBe(0);
      expect((await searchSeries(orthancTransport(orthanc), src.study)).length).toBe(seriesBefore);
      // another request with the same job file is refused before any work
      const other = await cliAsync(args.map((a) => (a === '2' ? '3' : a)));
      expect(other.code).toBe(2);
      expect(other.stderr).toMatch(/records a different request \(scale differ/);
    } finally {
      await proxy.close();
    }
  }, 180000);

  it('--mode classical: one series (no std map), mode, slice model and fidelity recorded', async () => {
    const before = await orthancCounts(orthanc);
    const out = join(work, 'sr-classical');
    const r = cli(
      srArgs(
        ...['--scale', '2', '--mode', 'classical', '--slice-profile', 'gaussian', '--slice-thickness', '3'],
        ...['--std-map', '--stow', '--out', out],
      ),
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const done = r.events.find((e) => e.type === 'done') as Record<string, unknown>;
    expect(done.mode).toBe('classical');
    expect((done.fidelity as { meanAbs: number }).meanAbs).toBeLessThan(5);
    expect(existsSync(join(out, 'uncertainty'))).toBe(false);
    const after = await orthancCounts(orthanc);
    expect(after.series - before.series).toBe(1);
    const files = readdirSync(join(out, 'super-resolved'));
    const bytes = readFileSync(join(out, 'super-resolved', files[3]));
    const ds = dicomHeader(bytes);
    expect(ds.DerivationDescription).toMatch(
      /classical back-projection \(no AI\); slice model Gaussian FWHM 3\.00 mm; reproduces the acquired slices within \d+\.\d HU/,
    );
    expect(ds.SeriesDescription).toMatch(/^AI super-resolution IBP \d+x\d+x\d+ - NOT FOR DIAGNOSTIC USE$/);
    expect(dciodvfy(bytes).errors).toEqual([]);
  }, 120000);

  it('refuses an earlier result (AI output) given as --series, in one line, writing nothing', async () => {
    const ours = (await searchSeries(orthancTransport(orthanc), src.study)).find((s) =>
      /^AI super-resolution/.test(s.seriesDescription ?? ''),
    );
    expect(ours).toBeDefined(); // written by the tests above
    const before = await orthancCounts(orthanc);
    const out = join(work, 'sr-of-sr');
    const r = cli(
      srArgsFor(
        ours!.seriesInstanceUid as string,
        '--scale',
        '2',
        '--mode',
        'classical',
        '--stow',
        '--out',
        out,
      ),
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /"AI super-resolution" was written by this product \(AI output\); super-resolve the original series instead/,
    );
    expect(existsSync(out)).toBe(false);
    expect(await orthancCounts(orthanc)).toEqual(before);
  }, 60000);

  it.each([
    ['more refiner samples than it has', ['--mode', 'ai', '--samples', '9'], /8 distinct samples/],
    ['an unknown mode', ['--mode', 'magic'], /--mode magic: expected ai, classical or diffusion/],
    ['an unknown slice profile', ['--slice-profile', 'cubic'], /--slice-profile cubic: expected auto/],
    ['a bad slice thickness', ['--slice-thickness', '0'], /--slice-thickness 0: expected a positive number/],
  ])(
    'refuses %s in one line, writing nothing',
    async (_n, extra, message) => {
      const before = await orthancCounts(orthanc);
      const out = join(work, `refused-mode-${Math.random()}`);
      const r = cli(srArgs('--scale', '2', ...extra, '--stow', '--out', out));
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
      expect(await orthancCounts(orthanc)).toEqual(before);
    },
    120000,
  );

  it('a second run numbers its series after those the study already has (QIDO), never reusing one', async () => {
    const transport = orthancTransport(orthanc);
    const before = (await searchSeries(transport, src.study)).map((s) => s.seriesNumber);
    const r = cli(
      srArgs('--scale', '2', '--samples', '1', '--cycles', '1', '--steps', '1', '--std-map', '--stow'),
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const after = (await searchSeries(transport, src.study)).map((s) => s.seriesNumber);
    expect(after).toHaveLength(before.length + 2);
    expect(after.every((n) => typeof n === 'number')).toBe(true);
    expect(new Set(after).size).toBe(after.length);
  }, 120000);

  it.each([
    ['an unknown study UID', (_s: string) => ['--study', '1.2.3.4.5.6.7', '--scale', '2'], 2, /not found/],
    [
      'an unknown series UID',
      () => ['--series', '1.2.826.0.1.3680043.8.498.999', '--scale', '2'],
      2,
      /series 1\.2\.826\.0\.1\.3680043\.8\.498\.999 is not in study/,
    ],
    ['a spacing coarser than the source', () => ['--spacing', '1,1,1'], 2, /coarser/],
    [
      'a grid latent diffusion does not support',
      () => ['--scale', '5', '--mode', 'diffusion'],
      2,
      /outside the model's range/,
    ],
    [
      'a result larger than the AI mode holds (768 x 768 planes)',
      () => ['--scale', '12'],
      2,
      /a result of 768 x 768 x 192 voxels .* beyond what the ai mode holds in memory/,
    ],
    ['a scale that is not a number', () => ['--scale', '1,1,x'], 2, /--scale must be three numbers X,Y,Z/],
  ] as Array<[string, (s: string) => string[], number, RegExp]>)(
    'refuses %s: one line, non-zero exit, nothing written',
    async (_n, extra, code, message) => {
      const before = await orthancCounts(orthanc);
      const out = join(work, `refused-${code}-${Math.random()}`);
      const args = [
        'super-resolve',
        '--pacs',
        orthanc.dicomWebRoot,
        '--study',
        src.study,
        '--model',
        model.dir,
        '--stow',
        '--out',
        out,
        ...extra(src.study),
      ];
      const r = cli(args);
      expect(r.code).toBe(code);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
      expect(await orthancCounts(orthanc)).toEqual(before);
    },
  );

  it('latent diffusion runs a region thinner than the model grid on a grid padded up to it', () => {
    const out = join(work, 'sr-thin-diffusion');
    const r = cli(
      srArgs(
        ...['--scale', '2', '--mode', 'diffusion', '--region', 'x=0:8'],
        ...['--samples', '1', '--cycles', '1', '--steps', '1', '--out', out],
      ),
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    // 8 columns at x2: 16 result columns, run on the model's 32 (its grid minimum)
    const plan = r.events.find((e) => e.type === 'plan') as { target: number[]; modelGrid: number[] };
    expect(plan.target[0]).toBe(16);
    expect(plan.modelGrid[0]).toBe(32);
    const files = readdirSync(join(out, 'super-resolved'));
    expect(files).toHaveLength(plan.target[2]);
    const bytes = readFileSync(join(out, 'super-resolved', files[0]));
    const ds = dicomHeader(bytes);
    expect({ rows: ds.Rows, cols: ds.Columns }).toEqual({ rows: plan.target[1], cols: 16 });
  }, 120000);

  it('refuses an unreachable PACS with the PACS exit code', () => {
    const out = join(work, 'sr-unreachable');
    const r = cli([
      'super-resolve',
      '--pacs',
      'http://127.0.0.1:9/dicom-web',
      '--study',
      '1.2.3',
      '--scale',
      '2',
      '--model',
      model.dir,
      '--stow',
      '--out',
      out,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses an unreachable PACS for generation with the PACS exit code, writing nothing', () => {
    const out = join(work, 'gen-unreachable');
    const job = join(work, 'gen-unreachable-job', 'job.json');
    const r = cli([
      'generate',
      '--pacs',
      'http://127.0.0.1:9/dicom-web',
      '--grid',
      '32,32,32',
      '--steps',
      '1',
      '--model',
      model.dir,
      '--stow',
      '--out',
      out,
      '--job',
      job,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(dirname(job))).toBe(false);
  });

  it('refuses a grid the model does not support for generation, writing nothing', () => {
    const out = join(work, 'gen-bad');
    const r = cli(['generate', '--grid', '36,32,32', '--steps', '2', '--model', model.dir, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/outside the model's range/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('super-resolve: hospital data that is subtly wrong (real slices of lung-pet-ct-dx-a0002, edited)', () => {
  const files = (): string[] => {
    const dir = seriesDir('lung-pet-ct-dx-a0002');
    return readReference(dir).slices.map((x) => join(dir, x.file));
  };
  const sr = (study: string, extra: string[], out: string): Run =>
    cli([
      'super-resolve',
      '--pacs',
      orthanc.dicomWebRoot,
      '--study',
      study,
      '--scale',
      '2',
      '--region',
      'x=224:256',
      '--region',
      'y=224:256',
      '--mode',
      'classical',
      ...extra,
      '--model',
      model.dir,
      '--stow',
      '--out',
      out,
    ]);

  it('a 24 mm hole (two slices missing): exit 2 naming the gap, nothing written; --bridge-gaps writes a series that says so', async () => {
    const f = files().slice(0, 20); // 18 slices left: x2 gives at least the model's 32 along z
    f.splice(5, 2);
    const { study } = await uploadCopy(orthancTransport(orthanc), f);
    const before = await orthancCounts(orthanc);
    const refusedOut = join(work, 'hole-refused');
    const r = sr(study, [], refusedOut);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/a gap of 24\.0 mm between the slices .* slices are missing there/);
    expect(existsSync(refusedOut)).toBe(false);
    expect(await orthancCounts(orthanc)).toEqual(before);

    const out = join(work, 'hole-bridged');
    const ok = sr(study, ['--bridge-gaps'], out);
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
    expect(
      ok.events.some(
        (e) =>
          e.type === 'info' &&
          /^source: gap of 24\.0 mm .* bridged by interpolation$/.test(String(e.message)),
      ),
    ).toBe(true);
    const dcm = readdirSync(join(out, 'super-resolved'));
    const bytes = readFileSync(join(out, 'super-resolved', dcm[0]));
    const ds = dicomHeader(bytes);
    expect(ds.DerivationDescription).toMatch(/source gap of 24\.0 mm \(.*\) bridged by interpolation/);
    expect(dciodvfy(bytes).errors).toEqual([]);
  }, 120000);

  it('RescaleIntercept missing: exit 2 in one line naming the tag and the count, nothing written (was: +1024 HU, exit 0)', async () => {
    const { study } = await uploadCopy(orthancTransport(orthanc), files().slice(0, 6), (d) => {
      delete d['00281052'];
    });
    const before = await orthancCounts(orthanc);
    const out = join(work, 'no-intercept');
    const r = sr(study, [], out);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/RescaleIntercept is missing on 6 of 6 instances/);
    expect(existsSync(out)).toBe(false);
    expect(await orthancCounts(orthanc)).toEqual(before);
  }, 120000);
});

describe('super-resolve a full-size real series (lung-pet-ct-dx-a0002, 512 x 512 x 30, through Orthanc)', () => {
  let real: SeededSeries;
  const sr = (extra: string[]) => [
    'super-resolve',
    '--pacs',
    orthanc.dicomWebRoot,
    '--study',
    real.studyInstanceUid,
    '--model',
    model.dir,
    '--samples',
    '1',
    '--cycles',
    '1',
    '--t',
    '20',
    '--steps',
    '1',
    ...extra,
  ];
  /** The source's index -> patient mapping, from its own files (first slice along the normal, IOP, PixelSpacing). */
  function sourceVoxel(i: number, j: number, k: number): number[] {
    const headers = readSeriesHeaders('lung-pet-ct-dx-a0002').map((h) => h.dataset);
    const iop = (headers[0].ImageOrientationPatient as number[]).map(Number);
    const n = [
      iop[1] * iop[5] - iop[2] * iop[4],
      iop[2] * iop[3] - iop[0] * iop[5],
      iop[0] * iop[4] - iop[1] * iop[3],
    ];
    const pos = headers
      .map((h) => (h.ImagePositionPatient as number[]).map(Number))
      .sort((a, b) => a[0] * n[0] + a[1] * n[1] + a[2] * n[2] - (b[0] * n[0] + b[1] * n[1] + b[2] * n[2]));
    const [rowSpacing, colSpacing] = (headers[0].PixelSpacing as number[]).map(Number);
    const dz = [0, 1, 2].map((c) => (pos[pos.length - 1][c] - pos[0][c]) / (pos.length - 1));
    return [0, 1, 2].map(
      (c) => pos[0][c] + iop[c] * colSpacing * i + iop[3 + c] * rowSpacing * j + dz[c] * k,
    );
  }
  function firstSlice(dir: string): { ipp: number[]; rows: number; cols: number } {
    const files = readdirSync(dir).sort();
    const all = files.map((f) => dicomHeader(readFileSync(join(dir, f))));
    const lowest = all.reduce((a, b) =>
      Number(b.ImagePositionPatient[2]) < Number(a.ImagePositionPatient[2]) ? b : a,
    );
    return {
      ipp: (lowest.ImagePositionPatient as number[]).map(Number),
      rows: lowest.Rows,
      cols: lowest.Columns,
    };
  }

  beforeAll(async () => {
    real = await seedSeries(orthancTransport(orthanc), 'lung-pet-ct-dx-a0002');
    expect(real.report.notStored).toEqual([]);
  }, 120000);

  it('refuses the whole series at x2 in one line that proposes --region fit, writing nothing', async () => {
    const before = await orthancCounts(orthanc);
    const out = join(work, 'real-whole');
    // latent diffusion: the model's grid range (256 per axis)
    const r = cli(sr(['--scale', '2', '--mode', 'diffusion', '--stow', '--out', out]));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /outside the model's range.*result would be 1024x1024x60 voxels: add --region fit \(the largest centred region that fits: x=192:320,y=192:320,z=0:30\)/,
    );
    // the AI refiner (the default mode): what its volumes need in memory; 1024 x 1024 planes are too large
    const ai = cli(sr(['--scale', '2', '--stow', '--out', out]));
    expect(ai.code).toBe(2);
    expect(ai.stderr.trim().split('\n')).toHaveLength(1);
    expect(ai.stderr).toMatch(
      /a result of 1024 x 1024 x 60 voxels .* beyond what the ai mode holds in memory.*add --region fit \(the largest centred region that fits: x=75:437,y=75:437,z=0:30\)/,
    );
    expect(existsSync(out)).toBe(false);
    expect(await orthancCounts(orthanc)).toEqual(before);
  });

  it('--region fit: the largest centred region, stored as a derived series of the study at that place', async () => {
    const before = await orthancCounts(orthanc);
    const out = join(work, 'real-fit');
    const r = cli(sr(['--scale', '2', '--mode', 'diffusion', '--region', 'fit', '--stow', '--out', out]));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.events.find((e) => e.type === 'plan')).toMatchObject({
      source: [512, 512, 30],
      region: 'x=192:320,y=192:320,z=0:30',
      fitted: true,
      target: [256, 256, 60],
      modelGrid: [256, 256, 64],
    });
    expect(
      r.events.find((e) => e.type === 'info' && /region fitted to the model/.test(String(e.message))),
    ).toBeDefined();
    const after = await orthancCounts(orthanc);
    expect({ series: after.series - before.series, instances: after.instances - before.instances }).toEqual({
      series: 1,
      instances: 60,
    });
    const series = await searchSeries(orthancTransport(orthanc), real.studyInstanceUid);
    expect(series.map((s) => s.numberOfInstances).sort((a, b) => Number(a) - Number(b))).toEqual([30, 60]);
    const files = readdirSync(join(out, 'super-resolved'));
    expect(files).toHaveLength(60);
    expect(dciodvfy(readFileSync(join(out, 'super-resolved', files[30]))).errors).toEqual([]);
    // The result covers the region's voxel edges: its first voxel centre is a quarter source voxel inside
    // the region's corner (x2), i.e. source index (192 - 0.25, 192 - 0.25, -0.25).
    const first = firstSlice(join(out, 'super-resolved'));
    expect({ rows: first.rows, cols: first.cols }).toEqual({ rows: 256, cols: 256 });
    const expected = sourceVoxel(192 - 0.25, 192 - 0.25, -0.25);
    for (let c = 0; c < 3; c++) expect(Math.abs(first.ipp[c] - expected[c])).toBeLessThan(1e-3);
  }, 300000);

  it('the classical mode takes the whole 512 x 512 series (no region), stored as 60 slices of 512 x 512', async () => {
    const before = await orthancCounts(orthanc);
    const out = join(work, 'real-whole-classical');
    // --scale per axis: twice the slices (8 -> 4 mm), the in-plane grid kept
    const r = cli(sr(['--scale', '1,1,2', '--mode', 'classical', '--stow', '--out', out]));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.events.find((e) => e.type === 'plan')).toMatchObject({
      source: [512, 512, 30],
      region: 'x=0:512,y=0:512,z=0:30',
      target: [512, 512, 60],
    });
    const after = await orthancCounts(orthanc);
    expect({ series: after.series - before.series, instances: after.instances - before.instances }).toEqual({
      series: 1,
      instances: 60,
    });
    const files = readdirSync(join(out, 'super-resolved'));
    expect(files).toHaveLength(60);
    expect(dciodvfy(readFileSync(join(out, 'super-resolved', files[30]))).errors).toEqual([]);
    const first = firstSlice(join(out, 'super-resolved'));
    expect({ rows: first.rows, cols: first.cols }).toEqual({ rows: 512, cols: 512 });
    // the result covers the series' voxel edges: its first slice is a quarter source slice below the first
    const expected = sourceVoxel(0, 0, -0.25);
    for (let c = 0; c < 3; c++) expect(Math.abs(first.ipp[c] - expected[c])).toBeLessThan(1e-3);
  }, 300000);

  it('--region axis=a:b: a chosen region (voxel indices, end exclusive)', async () => {
    const out = join(work, 'real-region');
    const r = cli(
      sr([
        '--scale',
        '2',
        '--region',
        'x=200:264',
        '--region',
        'y=180:244',
        '--region',
        'z=7:23',
        '--out',
        out,
      ]),
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    // No --series: the original series, not the 60-instance result of the test above.
    expect(r.events.find((e) => e.type === 'plan')).toMatchObject({
      source: [512, 512, 30],
      region: 'x=200:264,y=180:244,z=7:23',
      target: [128, 128, 32],
    });
    expect(readdirSync(join(out, 'super-resolved'))).toHaveLength(32);
    // only the region's slices were fetched, and --out holds the result and nothing half-written
    expect(r.events.some((e) => e.type === 'info' && e.message === 'read slices 7..22 of 30')).toBe(true);
    expect(readdirSync(out).sort()).toEqual(['super-resolved', 'super-resolved.nii']);
    const first = firstSlice(join(out, 'super-resolved'));
    const expected = sourceVoxel(200 - 0.25, 180 - 0.25, 7 - 0.25);
    for (let c = 0; c < 3; c++) expect(Math.abs(first.ipp[c] - expected[c])).toBeLessThan(1e-3);
  }, 120000);

  it('a job larger than the memory it may use: exit 2 with the numbers, before any pixel is read', () => {
    const out = join(work, 'real-memory');
    const r = spawnSync(
      process.execPath,
      [BIN, ...sr(['--scale', '2', '--region', 'fit', '--out', out]), '--json', '--threads', '1'],
      { encoding: 'utf8', env: { ...env(), GEOMETRY_LDM_MEMORY_LIMIT: '300M' } },
    );
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /needs about \d+\.\d GB of memory .* but 0\.3 GB is available \(GEOMETRY_LDM_MEMORY_LIMIT\): use a smaller --region/,
    );
    expect(r.stdout).not.toMatch(/read slices/);
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    [['--region', 'x=500:600'], /--region x=500:600 lies outside the series \(x=0:512\)/],
    [['--region', 'fit', '--region', 'x=0:10'], /--region fit cannot be combined/],
    [['--region', 'x=10'], /--region must be "fit" or axis=start:end/],
  ])('refuses %j in one line, writing nothing', (extra, message) => {
    const out = join(work, `real-bad-${Math.random()}`);
    const r = cli(sr(['--scale', '2', ...extra, '--out', out]));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});

describe('arguments, locations and secrets: checked before any read, load or write', () => {
  const sr = (extra: string[], out: string): string[] => [
    'super-resolve',
    '--pacs',
    orthanc.dicomWebRoot,
    '--study',
    '1.2.3',
    '--scale',
    '2',
    '--model',
    model.dir,
    '--out',
    out,
    ...extra,
  ];
  const gen = (extra: string[], out: string): string[] => [
    'generate',
    '--grid',
    '32,32,32',
    '--model',
    model.dir,
    '--out',
    out,
    ...extra,
  ];

  it.each([
    [
      'generate --steps 2000',
      (o: string) => gen(['--steps', '2000'], o),
      /--steps \(ddim\) 2000: .* at most 1000 steps/,
    ],
    ['super-resolve --t 5000', (o: string) => sr(['--t', '5000'], o), /--t 5000: .* at most 999/],
    [
      'super-resolve --steps 2000',
      (o: string) => sr(['--steps', '2000'], o),
      /--steps 2000: .* at most 1000/,
    ],
    [
      '--samples 1e12',
      (o: string) => sr(['--samples', '1e12'], o),
      /--samples 1000000000000 is more than the maximum 64/,
    ],
    [
      '--cycles 1e6',
      (o: string) => sr(['--cycles', '1e6'], o),
      /--cycles 1000000 is more than the maximum 50/,
    ],
    [
      '--count 1e12',
      (o: string) => gen(['--count', '1e12'], o),
      /--count 1000000000000 is more than the maximum 100000/,
    ],
    ['generate --eta 2', (o: string) => gen(['--eta', '2'], o), /--eta 2: expected a number from 0/],
    [
      'generate --sampler ddpm --eta 1',
      (o: string) => gen(['--sampler', 'ddpm', '--eta', '1'], o),
      /--eta is for --sampler ddim/,
    ],
    [
      'a missing --model folder',
      (o: string) => [...gen(['--steps', '1'], o), '--model', '/nonexistent-model'],
      /--model \/nonexistent-model: no model.json there/,
    ],
    ['--out that is a file', () => gen(['--steps', '1'], BIN), /is a file, not a folder/],
    [
      '--out under a file',
      () => gen(['--steps', '1'], join(BIN, 'x')),
      /geometry-ldm\.mjs is a file, not a folder/,
    ],
    ['--out in /proc', () => sr([], '/proc/geometry-ldm-x'), /\/proc is a kernel file system/],
  ] as Array<[string, (out: string) => string[], RegExp]>)(
    '%s: exit 2 in one line, nothing written',
    (_n, args, message) => {
      const out = join(work, `args-${Math.random()}`);
      const r = cli(args(out));
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    },
  );

  it('generate --steps 1000000000 --job FILE: refused before the job file is written', () => {
    const job = join(work, 'huge-steps', 'job.json');
    const r = cli(gen(['--steps', '1000000000', '--job', job], join(work, 'huge-steps-out')));
    expect(r.code).toBe(2);
    expect(existsSync(dirname(job))).toBe(false);
  });

  it('credentials in --pacs are refused and never echoed (stderr, stdout, --json record)', () => {
    const url = orthanc.dicomWebRoot.replace('://', '://alice:S3cretPassw0rd@');
    const r = cli([
      'super-resolve',
      '--pacs',
      url,
      '--study',
      '1.2.3',
      '--scale',
      '2',
      '--out',
      join(work, 'cred'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--pacs must not contain credentials .* GEOMETRY_LDM_PACS_USER/);
    expect(r.stderr + r.stdout).not.toMatch(/S3cretPassw0rd/);
    expect(r.events.find((e) => e.type === 'error')).toBeDefined();
  });

  it("Orthanc's REST root instead of its DICOMweb root: exit 2 saying so, not 'study not found'", () => {
    const r = cli(
      sr([], join(work, 'wrong-root')).map((a) => (a === orthanc.dicomWebRoot ? orthanc.url : a)),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not answer as a DICOMweb root .* e\.g\. http:\/\/host:8042\/dicom-web/);
  });

  it('connection refused: the cause is named (ECONNREFUSED), exit 3', async () => {
    const port = await freePort();
    const r = cli(
      sr([], join(work, 'refused')).map((a) =>
        a === orthanc.dicomWebRoot ? `http://127.0.0.1:${port}/dicom-web` : a,
      ),
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/failed: connect ECONNREFUSED 127\.0\.0\.1:\d+/);
  });

  it('--threads 1000 is capped to the cores (one info line), and the job runs', () => {
    const out = join(work, 'threads');
    const r = spawnSync(
      process.execPath,
      [BIN, ...gen(['--steps', '1'], out), '--json', '--threads', '1000'],
      {
        encoding: 'utf8',
        env: env(),
        timeout: 120000,
      },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--threads 1000: this machine has \d+ cores; using \d+/);
    expect(readdirSync(out).some((f) => f.endsWith('.nii'))).toBe(true);
  }, 130000);
});
