import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkDiskSpace,
  checkMemory,
  generateMemory,
  memoryBudget,
  parseSize,
  superResolveMemory,
} from './resources';

test('sizes: bytes or K/M/G suffixes; anything else is not a size', () => {
  expect(parseSize('3G')).toBe(3 * 1024 ** 3);
  expect(parseSize('512M')).toBe(512 * 1024 ** 2);
  expect(parseSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
  expect(parseSize('1073741824')).toBe(1073741824);
  expect(parseSize('lots')).toBeNull();
});

describe('memory budget', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'cgroup-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test("a cgroup v2 limit minus its usage (a pod's 3 GB)", () => {
    writeFileSync(join(root, 'memory.max'), `${3 * 1024 ** 3}\n`);
    writeFileSync(join(root, 'memory.current'), `${1024 ** 3}\n`);
    const b = memoryBudget({}, root);
    expect(b.availableBytes).toBeLessThanOrEqual(2 * 1024 ** 3);
    expect(b.source).toMatch(/container limit 3\.0 GB \(cgroup memory\.max\), 1\.0 GB in use/);
  });

  test('cgroup v1, and no limit ("max") falls back to free memory', () => {
    mkdirSync(join(root, 'memory'));
    writeFileSync(join(root, 'memory', 'memory.limit_in_bytes'), `${2 * 1024 ** 3}\n`);
    writeFileSync(join(root, 'memory', 'memory.usage_in_bytes'), '0\n');
    expect(memoryBudget({}, root).source).toMatch(/memory\.limit_in_bytes/);
    rmSync(join(root, 'memory'), { recursive: true });
    writeFileSync(join(root, 'memory.max'), 'max\n');
    expect(memoryBudget({}, root).source).toMatch(/^free memory of/);
  });

  test('an operator-stated limit wins; a bad one is refused by name', () => {
    expect(memoryBudget({ GEOMETRY_LDM_MEMORY_LIMIT: '2G' }, root)).toEqual({
      availableBytes: 2 * 1024 ** 3,
      source: 'GEOMETRY_LDM_MEMORY_LIMIT',
    });
    expect(() => memoryBudget({ GEOMETRY_LDM_MEMORY_LIMIT: 'plenty' }, root)).toThrow(
      /GEOMETRY_LDM_MEMORY_LIMIT=plenty is not a size/,
    );
  });
});

test('the estimate grows with the job, and a job over the budget is refused with both numbers', () => {
  const small = superResolveMemory({
    mode: 'ai',
    sourceDims: [64, 64, 16],
    paddedDims: [128, 128, 32],
    outputDims: [128, 128, 32],
    stdMap: true,
  });
  const big = superResolveMemory({
    mode: 'diffusion',
    sourceDims: [512, 512, 144],
    paddedDims: [272, 272, 288],
    outputDims: [272, 272, 288],
    stdMap: true,
  });
  expect(big.totalBytes).toBeGreaterThan(small.totalBytes * 3);
  expect(() => checkMemory(big, { availableBytes: 1024 ** 3, source: 'test' }, 'this job')).toThrow(
    /this job needs about \d+\.\d GB of memory .* but 1\.0 GB is available \(test\)/,
  );
  expect(() => checkMemory(small, { availableBytes: 64 * 1024 ** 3, source: 'test' }, 'x')).not.toThrow();
});

test('a result larger than the free disk space is refused before anything is written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'out-'));
  try {
    expect(() => checkDiskSpace(join(dir, 'new', 'sub'), 1024 ** 5)).toThrow(
      /needs about .* free on that disk/,
    );
    expect(() => checkDiskSpace(join(dir, 'new'), 1024)).not.toThrow();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generation: a 192^3 volume needs several times a 64^3 one', () => {
  const small = generateMemory([64, 64, 64]);
  const big = generateMemory([192, 192, 192]);
  expect(big.activationBytes).toBeCloseTo(27 * small.activationBytes, -3);
  expect(big.totalBytes).toBeGreaterThan(small.totalBytes * 2);
  expect(() => checkMemory(big, { availableBytes: 256 * 1024 ** 2, source: 'test' }, 'generating')).toThrow(
    /generating needs about/,
  );
});
