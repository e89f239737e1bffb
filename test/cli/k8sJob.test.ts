/**
 * The shipped Kubernetes Indexed Job: a valid Indexed Job whose pods each run
 * one shard (JOB_COMPLETION_INDEX of GEOMETRY_LDM_SHARDS), with credentials
 * from a Secret (never in args); the CLI really maps that environment to the
 * shard (item i goes to index i mod shards); and the manifest's own args, with
 * Kubernetes' $(VAR) expansion, run as concurrent "pods" sharing one /state
 * folder fill a real Orthanc with exactly the batch (and a restarted pod
 * skips what it did).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { exportTinyModel, type ExportedModel } from '../support/tinyModel';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { orthancCounts, orthancTransport } from '../support/dicomweb';
import { searchStudies } from '../../extensions/geometry-ldm/src/dicom/qido';

const MANIFEST = resolve(__dirname, '..', '..', 'platform-config', 'k8s', 'generate-indexed-job.yaml');
const BIN = resolve(__dirname, '..', '..', 'extensions', 'geometry-ldm', 'bin', 'geometry-ldm.mjs');

interface Job {
  apiVersion: string;
  kind: string;
  spec: {
    completionMode: string;
    completions: number;
    parallelism: number;
    template: {
      spec: {
        restartPolicy: string;
        containers: Array<{
          args: string[];
          env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
          resources?: { limits?: Record<string, unknown>; requests?: Record<string, unknown> };
          volumeMounts: Array<{ name: string; mountPath: string }>;
        }>;
      };
    };
  };
}

describe('Kubernetes Indexed Job manifest', () => {
  const job = load(readFileSync(MANIFEST, 'utf8')) as Job;
  const container = job.spec.template.spec.containers[0];
  const env = Object.fromEntries(container.env.map((e) => [e.name, e]));

  it('is an Indexed Job with one shard per completion index', () => {
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.kind).toBe('Job');
    expect(job.spec.completionMode).toBe('Indexed');
    expect(Number(env.GEOMETRY_LDM_SHARDS.value)).toBe(job.spec.completions);
    expect(job.spec.parallelism).toBeLessThanOrEqual(job.spec.completions);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
  });

  it('runs a resumable, fixed-batch generate with credentials from a Secret', () => {
    const args = container.args;
    expect(args[0]).toBe('generate');
    for (const flag of ['--stow', '--job', '--batch-id', '--seed', '--count']) expect(args).toContain(flag);
    expect(args.join(' ')).not.toMatch(/password|token/i);
    expect(env.GEOMETRY_LDM_PACS_PASSWORD.valueFrom).toBeDefined();
    expect(env.GEOMETRY_LDM_PACS_PASSWORD.value).toBeUndefined();
  });

  it('gives every index its own job file on the shared state volume', () => {
    const job = container.args[container.args.indexOf('--job') + 1];
    expect(job).toContain('$(JOB_COMPLETION_INDEX)');
    const mount = container.volumeMounts.find((m) => job.startsWith(`${m.mountPath}/`));
    expect(mount).toBeDefined();
    // $(VAR) in args expands only from the container's env list.
    expect(env.JOB_COMPLETION_INDEX.valueFrom).toEqual({
      fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" },
    });
  });

  it('asks for a GPU only together with --device cuda', () => {
    const gpu = Object.keys(container.resources?.limits ?? {}).some((k) => /gpu/i.test(k));
    const cuda = container.args.join(' ').includes('--device cuda');
    expect(gpu).toBe(cuda);
  });
});

/** Kubernetes' expansion of $(VAR) in args from the container env ($$ escapes; unknown names stay as written). */
function expandArgs(args: readonly string[], env: Record<string, string>): string[] {
  return args.map((a) =>
    a.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name?: string) =>
      m === '$$' ? '$' : name !== undefined && name in env ? env[name] : m,
    ),
  );
}

describe('the manifest as pods: concurrent indexes on one state volume, one PACS', () => {
  const job = load(readFileSync(MANIFEST, 'utf8')) as Job;
  const container = job.spec.template.spec.containers[0];
  const shards = 3;
  const count = 5;
  let orthanc: OrthancInstance;
  let state: string;
  beforeAll(async () => {
    orthanc = await startOrthanc();
    state = mkdtempSync(join(tmpdir(), 'gldm-k8s-state-'));
  }, 180000);
  afterAll(async () => {
    await orthanc?.stop();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  /** The manifest's args for one index: its $(VAR)s expanded, the mount mapped, tiny sizes and the test PACS. */
  function podArgs(index: number): string[] {
    const mount = container.volumeMounts[0].mountPath;
    const override: Record<string, string> = {
      '--pacs': orthanc.dicomWebRoot,
      '--grid': '32,32,32',
      '--spacing': '8,8,8',
      '--count': String(count),
      '--steps': '1',
    };
    const args = expandArgs(container.args, { JOB_COMPLETION_INDEX: String(index) }).map(
      (a, n, all) =>
        override[all[n - 1]] ?? (a.startsWith(`${mount}/`) ? join(state, a.slice(mount.length + 1)) : a),
    );
    return [...args, '--threads', '1'];
  }

  function runPod(index: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [BIN, ...podArgs(index)], {
        env: {
          ...process.env,
          JOB_COMPLETION_INDEX: String(index),
          GEOMETRY_LDM_SHARDS: String(shards),
          GEOMETRY_LDM_PACS_USER: orthanc.user,
          GEOMETRY_LDM_PACS_PASSWORD: orthanc.password,
          OMP_NUM_THREADS: '1',
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += String(d)));
      child.stderr.on('data', (d) => (stderr += String(d)));
      child.on('exit', (code) => done({ code, stdout, stderr }));
    });
  }

  const events = (stdout: string) =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('every index succeeds, with its own job file, and the PACS holds exactly the batch', async () => {
    const before = await orthancCounts(orthanc);
    const pods = await Promise.all([0, 1, 2].map(runPod));
    for (const p of pods) expect({ code: p.code, stderr: p.stderr }).toEqual({ code: 0, stderr: '' });
    const items = pods.flatMap((p) => events(p.stdout).filter((e) => e.type === 'item'));
    expect(items.map((e) => e.index).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(readdirSync(state).sort()).toEqual(['job-0.json', 'job-1.json', 'job-2.json']);
    for (let i = 0; i < shards; i++) {
      const rec = JSON.parse(readFileSync(join(state, `job-${i}.json`), 'utf8'));
      expect(rec.request.shard).toEqual({ index: i, count: shards });
      expect(Object.keys(rec.items).map(Number)).toEqual([0, 1, 2, 3, 4].filter((n) => n % shards === i));
    }
    const after = await orthancCounts(orthanc);
    expect(after.studies - before.studies).toBe(count);
    expect(after.instances - before.instances).toBe(count * 32);
    const batch = String(events(pods[0].stdout).find((e) => e.type === 'batch')?.batchId);
    const studies = await searchStudies(orthancTransport(orthanc), {
      PatientID: `SYNTH-${batch.slice(0, 8)}-*`,
    });
    expect(new Set(studies.map((s) => s.studyInstanceUid)).size).toBe(count);
  }, 180000);

  it('a restarted pod skips the items its job file records', async () => {
    const before = await orthancCounts(orthanc);
    const r = await runPod(1);
    expect(r.code).toBe(0);
    const e = events(r.stdout);
    expect(e.filter((x) => x.type === 'item')).toEqual([]);
    expect(e.filter((x) => x.type === 'skipped').map((x) => x.index)).toEqual([1, 4]);
    expect(await orthancCounts(orthanc)).toEqual(before);
    expect(existsSync(join(state, 'job-1.json'))).toBe(true);
  }, 120000);
});

describe('JOB_COMPLETION_INDEX selects the shard', () => {
  let model: ExportedModel;
  let dir: string;
  beforeAll(() => {
    model = exportTinyModel(0);
    dir = mkdtempSync(join(tmpdir(), 'gldm-k8s-'));
  }, 120000);
  afterAll(() => {
    model?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([0, 1, 2])('index %i of 3 generates exactly the items i with i mod 3 = index', (index) => {
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'generate',
        '--grid',
        '32,32,32',
        '--count',
        '7',
        '--steps',
        '1',
        '--batch-id',
        'k8s',
        '--model',
        model.dir,
        '--out',
        join(dir, String(index)),
        '--json',
        '--threads',
        '1',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, JOB_COMPLETION_INDEX: String(index), GEOMETRY_LDM_SHARDS: '3' },
      },
    );
    expect(r.status).toBe(0);
    const items = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'item')
      .map((e) => e.index);
    expect(items).toEqual([0, 1, 2, 3, 4, 5, 6].filter((i) => i % 3 === index));
  });
});
