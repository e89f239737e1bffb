/**
 * The record of a batch: which items were generated and stored, with their
 * UIDs, so that a rerun after a crash or Ctrl-C continues without duplicates
 * or gaps. Written atomically (temp file + rename) after every item.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { UsageError } from './exitCodes';

export interface JobItem {
  readonly index: number;
  readonly seed: number;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly instances: number;
  readonly stored: boolean;
  readonly written?: string;
}

export interface JobRecord {
  readonly version: 1;
  readonly batchId: string;
  /** Canonical request: a rerun must ask for the same thing. */
  readonly request: Record<string, unknown>;
  /** Fixed at creation so that re-built instances are byte-identical (dates and times). */
  readonly createdAt: string;
  readonly items: Record<string, JobItem>;
}

export class JobFile {
  private constructor(
    readonly path: string,
    private record: JobRecord,
  ) {}

  static open(path: string, batchId: string, request: Record<string, unknown>): JobFile {
    if (existsSync(path)) {
      let rec: JobRecord;
      try {
        rec = JSON.parse(readFileSync(path, 'utf8'));
      } catch (e) {
        throw new UsageError(`job file ${path} is not readable JSON: ${(e as Error).message}`);
      }
      if (rec.batchId !== batchId || JSON.stringify(rec.request) !== JSON.stringify(request)) {
        throw new UsageError(
          `job file ${path} belongs to a different batch (${rec.batchId}); use another --job file`,
        );
      }
      return new JobFile(path, rec);
    }
    const job = new JobFile(path, {
      version: 1,
      batchId,
      request,
      createdAt: new Date().toISOString(),
      items: {},
    });
    job.save();
    return job;
  }

  get createdAt(): Date {
    return new Date(this.record.createdAt);
  }

  done(index: number): JobItem | undefined {
    const item = this.record.items[String(index)];
    return item?.stored || item?.written ? item : undefined;
  }

  items(): JobItem[] {
    return Object.values(this.record.items).sort((a, b) => a.index - b.index);
  }

  record_(item: JobItem): void {
    this.record = { ...this.record, items: { ...this.record.items, [String(item.index)]: item } };
    this.save();
  }

  private save(): void {
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(this.record, null, 1));
    renameSync(tmp, this.path);
  }
}
