/**
 * The shipped Kubernetes Indexed Job: a valid Indexed Job whose pods each run
 * one shard (JOB_COMPLETION_INDEX of GEOMETRY_LDM_SHARDS), with credentials
 * from a Secret (never in args); and the CLI really maps that environment to
 * the shard (item i goes to index i mod shards).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { exportTinyModel, type ExportedModel } from '../support/tinyModel';

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
