/**
 * The record that makes `super-resolve --stow --job FILE` resumable: the
 * request, the derived series as built (UIDs, instance count) and their Part 10
 * files staged in `FILE.d/`, and where they are stored. A rerun of the same
 * command after a failed store sends the staged files again (only what the
 * PACS lacks, same UIDs: the same series is completed, nothing is computed
 * again); once the PACS holds every instance the staged files are removed and
 * a further rerun only reports the stored series. Written atomically.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { StowInstance } from '../dicom/stow';
import type { BuiltSeries } from '../dicom/ctImage';
import { prepareImport } from '../dicom/importFiles';
import { UsageError } from './exitCodes';
import { tempPathFor, writeJsonAtomically } from './jobFile';

export type SeriesRole = 'result' | 'uncertainty';

export interface JobSeries {
  readonly role: SeriesRole;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly instances: number;
  /** DICOMweb roots (pacsKey) holding every instance, checked by QIDO after STOW. */
  readonly storedTo: readonly string[];
}

interface SuperResolveJobRecord {
  readonly version: 1;
  readonly kind: 'super-resolve';
  /** Canonical request: a rerun must ask for the same thing. */
  readonly request: Record<string, unknown>;
  readonly createdAt: string;
  readonly series: readonly JobSeries[];
}

export class SuperResolveJob {
  private constructor(
    readonly path: string,
    private record: SuperResolveJobRecord,
  ) {}

  /** Opens (or creates) the job; a file that records another request is refused before any work. */
  static open(path: string, request: Record<string, unknown>): SuperResolveJob {
    if (!existsSync(path)) {
      try {
        mkdirSync(dirname(path), { recursive: true });
      } catch (e) {
        throw new UsageError(`--job ${path}: cannot create its folder: ${(e as Error).message}`);
      }
      const job = new SuperResolveJob(path, {
        version: 1,
        kind: 'super-resolve',
        request,
        createdAt: new Date().toISOString(),
        series: [],
      });
      job.save();
      return job;
    }
    let rec: SuperResolveJobRecord;
    try {
      rec = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new UsageError(`job file ${path} is not readable JSON: ${(e as Error).message}`);
    }
    if (rec.kind !== 'super-resolve')
      throw new UsageError(`job file ${path} is not a super-resolve job; use another --job file`);
    if (JSON.stringify(rec.request) !== JSON.stringify(request)) {
      const differs = Object.keys({ ...rec.request, ...request })
        .filter((k) => JSON.stringify(rec.request[k]) !== JSON.stringify(request[k]))
        .join(', ');
      throw new UsageError(
        `job file ${path} records a different request (${differs} differ); rerun the recorded command or use another --job file`,
      );
    }
    return new SuperResolveJob(path, rec);
  }

  get createdAt(): Date {
    return new Date(this.record.createdAt);
  }

  get series(): readonly JobSeries[] {
    return this.record.series;
  }

  /** Every recorded series is held by this PACS. */
  storedIn(pacs: string): boolean {
    return this.series.length > 0 && this.series.every((s) => s.storedTo.includes(pacs));
  }

  stagingDir(role: SeriesRole): string {
    return join(`${this.path}.d`, role);
  }

  /** The staged instances of every recorded series, or null when any file is missing. */
  stagedInstances(): { role: SeriesRole; instances: StowInstance[] }[] | null {
    const out: { role: SeriesRole; instances: StowInstance[] }[] = [];
    for (const s of this.series) {
      const dir = this.stagingDir(s.role);
      if (!existsSync(dir)) return null;
      const names = readdirSync(dir)
        .filter((f) => f.endsWith('.dcm'))
        .sort();
      if (names.length !== s.instances) return null;
      const { instances } = prepareImport(
        names.map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) })),
        'geometry-ldm-job',
      );
      if (instances.some((i) => i.seriesInstanceUid !== s.seriesInstanceUid)) return null;
      out.push({ role: s.role, instances });
    }
    return out;
  }

  /** Stages the built series' files (each folder complete before it is renamed into place), then records them. */
  stage(built: { role: SeriesRole; series: BuiltSeries }[]): void {
    rmSync(`${this.path}.d`, { recursive: true, force: true });
    for (const { role, series } of built) {
      const dir = this.stagingDir(role);
      const tmp = tempPathFor(dir);
      mkdirSync(tmp, { recursive: true });
      series.instances.forEach((inst, k) =>
        writeFileSync(join(tmp, `${String(k + 1).padStart(4, '0')}.dcm`), inst.bytes),
      );
      renameSync(tmp, dir);
    }
    this.record = {
      ...this.record,
      series: built.map(({ role, series }) => ({
        role,
        studyInstanceUid: series.studyInstanceUid,
        seriesInstanceUid: series.seriesInstanceUid,
        instances: series.instances.length,
        storedTo: [],
      })),
    };
    this.save();
  }

  /** Records a verified store of one series; when every series is stored, the staged files go. */
  markStored(role: SeriesRole, pacs: string): void {
    this.record = {
      ...this.record,
      series: this.series.map((s) =>
        s.role === role && !s.storedTo.includes(pacs) ? { ...s, storedTo: [...s.storedTo, pacs] } : s,
      ),
    };
    this.save();
    if (this.storedIn(pacs)) rmSync(`${this.path}.d`, { recursive: true, force: true });
  }

  private save(): void {
    writeJsonAtomically(this.path, this.record);
  }
}
