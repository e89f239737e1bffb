/**
 * The batch job file on its own: unique temp names (pods of a Kubernetes Job
 * all run as pid 1), a clear refusal of another shard's file, per-destination
 * records merged across runs, and version-1 files read conservatively.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobFile, pacsKey, tempPathFor } from '../../extensions/geometry-ldm/src/cli/jobFile';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gldm-jobfile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const request = (index: number) => ({ grid: [32, 32, 32], count: 4, shard: { index, count: 2 } });
const item = { index: 0, seed: 7, studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', instances: 2 };

function writeItemFiles(itemDir: string, n: number): void {
  mkdirSync(itemDir, { recursive: true });
  for (let k = 0; k < n; k++) writeFileSync(join(itemDir, `${k + 1}.dcm`), 'x');
  writeFileSync(`${itemDir}.nii`, 'x');
}

it('uses a different temp file name on every save, with the pid in it', () => {
  const names = new Set(Array.from({ length: 50 }, () => tempPathFor('/state/job-0.json')));
  expect(names.size).toBe(50);
  for (const n of names) expect(n.startsWith(`/state/job-0.json.tmp-${process.pid}-`)).toBe(true);
});

it('leaves no temp files behind', () => {
  const job = JobFile.open(join(dir, 'job.json'), 'b', request(0));
  job.record_({ ...item, writtenTo: [], storedTo: ['http://pacs/dicom-web'] });
  expect(readdirSync(dir)).toEqual(['job.json']);
});

it("refuses another shard's job file, naming both shards", () => {
  const path = join(dir, 'job.json');
  JobFile.open(path, 'b', request(0));
  expect(() => JobFile.open(path, 'b', request(1))).toThrow(
    /records shard 0\/2 of batch b, this run is shard 1\/2: give every shard its own --job file/,
  );
  expect(() => JobFile.open(path, 'other', request(0))).toThrow(/belongs to a different batch \(b\)/);
});

it('records each destination and merges them across runs', () => {
  const path = join(dir, 'job.json');
  const out = join(dir, 'out', 'item-00000');
  writeItemFiles(out, 2);
  const job = JobFile.open(path, 'b', request(0));
  job.record_({ ...item, writtenTo: [out], storedTo: [] });
  const pacs = pacsKey('http://alice:secret@pacs:8042/dicom-web/');
  expect(pacs).toBe('http://pacs:8042/dicom-web');
  expect(job.hasFiles(0, out)).toBe(true);
  expect(job.storedIn(0, pacs)).toBe(false);

  const again = JobFile.open(path, 'b', request(0));
  again.record_({ ...item, writtenTo: [], storedTo: [pacs] });
  const third = JobFile.open(path, 'b', request(0));
  expect(third.hasFiles(0, out)).toBe(true);
  expect(third.storedIn(0, pacs)).toBe(true);
  expect(third.storedIn(0, 'http://other/dicom-web')).toBe(false);
  // Files that are gone no longer count.
  rmSync(`${out}.nii`);
  expect(third.hasFiles(0, out)).toBe(false);
  expect(third.fileCopies(0)).toEqual([]);
});

it('reads a version-1 file: the folder counts, "stored" (PACS unknown) does not', () => {
  const path = join(dir, 'job.json');
  const out = join(dir, 'item-00000');
  writeItemFiles(out, 2);
  writeFileSync(
    path,
    JSON.stringify({
      version: 1,
      batchId: 'b',
      request: request(0),
      createdAt: '2026-01-01T00:00:00.000Z',
      items: { '0': { ...item, stored: true, written: out } },
    }),
  );
  const job = JobFile.open(path, 'b', request(0));
  expect(job.hasFiles(0, out)).toBe(true);
  expect(job.storedIn(0, 'http://pacs/dicom-web')).toBe(false);
});
