/** Process entry of the CLI: Ctrl-C cancels the running job (it stops within one model call). */
import { main } from './main';

const controller = new AbortController();
let interrupted = 0;
process.on('SIGINT', () => {
  if (++interrupted > 1) process.exit(130);
  process.stderr.write('\ngeometry-ldm: stopping after the current model call (Ctrl-C again to quit now)\n');
  controller.abort();
});
process.on('SIGTERM', () => controller.abort());

main(process.argv.slice(2), controller.signal).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`geometry-ldm: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
