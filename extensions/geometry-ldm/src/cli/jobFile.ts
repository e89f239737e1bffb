/**
 * The record of a batch: which items were generated and where each one was
 * written (item folders with the Part 10 files + NIfTI) and stored (DICOMweb
 * roots), with their UIDs, so that a rerun after a crash or Ctrl-C, or a
 * rerun with another destination (`--out` first, then `--out --stow`),
 * completes exactly what is missing, without duplicates or gaps. Written
 * atomically (temp file + rename) after every item; the temp name is unique
 * per process and call (pods of a Kubernetes Job all run as pid 1).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { UsageError } from './exitCodes';

export interface JobItem {
  readonly index: number;
  readonly seed: number;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly instances: number;
  /** Item folders (absolute paths) that received all its Part 10 files, with `<folder>.nii` next to each. */
  readonly writtenTo: readonly string[];
  /** DICOMweb roots (pacsKey) that hold every instance, checked by QIDO after STOW. */
  readonly storedTo: readonly string[];
}

export interface JobRecord {
  readonly version: 2;
  readonly batchId: string;
  /** Canonical request: a rerun must ask for the same thing. */
  readonly request: Record<string, unknown>;
  /** Fixed at creation so that re-built instances are byte-identical (dates and times). */
  readonly createdAt: string;
  readonly items: Record<string, JobItem>;
}

/** Version 1 items said `stored: true` without naming the PACS and `written` for one folder. */
interface JobItemV1 {
  readonly index: number;
  readonly seed: number;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly instances: number;
  readonly stored?: boolean;
  readonly written?: string;
}

function fromV1(item: JobItemV1): JobItem {
  const { stored: _stored, written, ...rest } = item;
  // Which PACS a version-1 item went to is unknown: it counts as stored nowhere, so a rerun stores it
  // again under the same UIDs (a PACS keeps one copy per SOP Instance UID).
  return { ...rest, writtenTo: written ? [written] : [], storedTo: [] };
}

/** A DICOMweb root as recorded in the job file: no credentials, no trailing slash. */
export function pacsKey(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.href.replace(/\/+$/, '');
}

/** Temp file for an atomic save: unique per process and call. */
export function tempPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Writes `value` as JSON to `path` atomically: a unique temp file beside it, then a rename. */
export function writeJsonAtomically(path: string, value: unknown): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 1));
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Whether an item folder still holds its files: `instances` .dcm files and the NIfTI copy. */
export function itemFilesPresent(dir: string, instances: number): boolean {
  if (!existsSync(dir) || !existsSync(`${dir}.nii`)) return false;
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.dcm')).length === instances;
  } catch {
    return false;
  }
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

export class JobFile {
  private constructor(
    readonly path: string,
    private record: JobRecord,
  ) {}

  static open(path: string, batchId: string, request: Record<string, unknown>): JobFile {
    if (existsSync(path)) {
      let rec: { version?: number } & Omit<JobRecord, 'version' | 'items'> & {
          items: Record<string, JobItem | JobItemV1>;
        };
      try {
        rec = JSON.parse(readFileSync(path, 'utf8'));
      } catch (e) {
        throw new UsageError(`job file ${path} is not readable JSON: ${(e as Error).message}`);
      }
      if (rec.batchId !== batchId || JSON.stringify(rec.request) !== JSON.stringify(request)) {
        const { shard: theirs, ...theirRequest } = (rec.request ?? {}) as { shard?: unknown };
        const { shard: ours, ...ourRequest } = request as { shard?: unknown };
        const shardOnly =
          rec.batchId === batchId &&
          JSON.stringify(theirRequest) === JSON.stringify(ourRequest) &&
          JSON.stringify(theirs) !== JSON.stringify(ours);
        const fmt = (s: unknown) => {
          const x = s as { index?: number; count?: number } | undefined;
          return `${x?.index}/${x?.count}`;
        };
        throw new UsageError(
          shardOnly
            ? `job file ${path} records shard ${fmt(theirs)} of batch ${batchId}, this run is shard ${fmt(ours)}: give every shard its own --job file`
            : `job file ${path} belongs to a different batch (${rec.batchId}); use another --job file`,
        );
      }
      const items: Record<string, JobItem> = {};
      for (const [k, item] of Object.entries(rec.items ?? {}))
        items[k] = rec.version === 2 ? (item as JobItem) : fromV1(item as JobItemV1);
      return new JobFile(path, { ...rec, version: 2, items } as JobRecord);
    }
    const job = new JobFile(path, {
      version: 2,
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

  item(index: number): JobItem | undefined {
    return this.record.items[String(index)];
  }

  /** The item's files are in `dir` (recorded, and still there). */
  hasFiles(index: number, dir: string): boolean {
    const item = this.item(index);
    return Boolean(item?.writtenTo.includes(dir) && itemFilesPresent(dir, item.instances));
  }

  /** The item is stored in the PACS with this key (recorded after a verified STOW). */
  storedIn(index: number, pacs: string): boolean {
    return Boolean(this.item(index)?.storedTo.includes(pacs));
  }

  /** Recorded folders that still hold the item's files. */
  fileCopies(index: number): string[] {
    const item = this.item(index);
    return item ? item.writtenTo.filter((d) => itemFilesPresent(d, item.instances)) : [];
  }

  items(): JobItem[] {
    return Object.values(this.record.items).sort((a, b) => a.index - b.index);
  }

  /** Adds an item, or merges new destinations into the recorded ones. */
  record_(item: JobItem): void {
    const old = this.item(item.index);
    const merged: JobItem =
      old && old.studyInstanceUid === item.studyInstanceUid
        ? {
            ...item,
            writtenTo: union(old.writtenTo, item.writtenTo),
            storedTo: union(old.storedTo, item.storedTo),
          }
        : item;
    this.record = { ...this.record, items: { ...this.record.items, [String(item.index)]: merged } };
    this.save();
  }

  private save(): void {
    writeJsonAtomically(this.path, this.record);
  }
}
