/** Human progress on a terminal, or JSON lines (--json) for machines. */
import type { ProgressEvent } from '../inference/progress';

export interface Reporter {
  progress(job: string, e: ProgressEvent): void;
  event(type: string, fields: Record<string, unknown>): void;
  info(message: string): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createReporter(
  json: boolean,
  out: NodeJS.WriteStream = process.stdout,
  err: NodeJS.WriteStream = process.stderr,
): Reporter {
  const tty = !json && Boolean(err.isTTY);
  let lastLine = 0;
  return {
    progress(job, e) {
      if (json) {
        out.write(
          JSON.stringify({
            type: 'progress',
            job,
            stage: e.stage,
            step: e.step,
            total: e.total,
            etaSeconds: e.etaSeconds,
          }) + '\n',
        );
        return;
      }
      const now = Date.now();
      if (!tty && now - lastLine < 2000 && e.step !== e.total) return;
      lastLine = now;
      const width = 30;
      const filled = e.total ? Math.round((width * e.step) / e.total) : 0;
      const eta = e.etaSeconds == null ? '' : ` ETA ${Math.ceil(e.etaSeconds)}s`;
      const line = `${job} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${e.step}/${e.total} ${e.stage}${eta}`;
      err.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    },
    event(type, fields) {
      if (json) out.write(JSON.stringify({ type, ...fields }) + '\n');
      else {
        if (tty) err.write('\n');
        out.write(
          `${type}: ${Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ')}\n`,
        );
      }
    },
    info(message) {
      if (json) out.write(JSON.stringify({ type: 'info', message }) + '\n');
      else err.write(`${message}\n`);
    },
    error(message, fields = {}) {
      if (json) out.write(JSON.stringify({ type: 'error', message, ...fields }) + '\n');
      if (tty) err.write('\n');
      err.write(`geometry-ldm: ${message}\n`);
    },
  };
}
