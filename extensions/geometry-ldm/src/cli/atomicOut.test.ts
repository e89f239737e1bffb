import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeOutAtomically } from './atomicOut';

let out: string;
beforeEach(() => (out = mkdtempSync(join(tmpdir(), 'atomic-'))));
afterEach(() => rmSync(out, { recursive: true, force: true }));

test('a write that fails half-way (a full disk) leaves --out as it was', () => {
  writeFileSync(join(out, 'keep.txt'), 'mine');
  expect(() =>
    writeOutAtomically(out, (tmp) => {
      mkdirSync(join(tmp, 'super-resolved'));
      writeFileSync(join(tmp, 'super-resolved', '0001.dcm'), 'a');
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    }),
  ).toThrow(/ENOSPC/);
  expect(readdirSync(out)).toEqual(['keep.txt']);
});

test('a complete write lands all at once and replaces the entries of an earlier run', () => {
  mkdirSync(join(out, 'super-resolved'));
  writeFileSync(join(out, 'super-resolved', '0001.dcm'), 'old');
  writeFileSync(join(out, 'super-resolved', '0099.dcm'), 'old, not in the new result');
  writeOutAtomically(out, (tmp) => {
    mkdirSync(join(tmp, 'super-resolved'));
    writeFileSync(join(tmp, 'super-resolved', '0001.dcm'), 'new');
    writeFileSync(join(tmp, 'super-resolved.nii'), 'nii');
  });
  expect(readdirSync(out).sort()).toEqual(['super-resolved', 'super-resolved.nii']);
  expect(readdirSync(join(out, 'super-resolved'))).toEqual(['0001.dcm']);
  expect(readFileSync(join(out, 'super-resolved', '0001.dcm'), 'utf8')).toBe('new');
  expect(existsSync(join(out, 'super-resolved', '0099.dcm'))).toBe(false);
});
