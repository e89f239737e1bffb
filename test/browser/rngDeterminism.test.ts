/**
 * The seeded Gaussian RNG must give the bit-identical stream in Node and in the
 * browser (page and Web Worker), so a seed reproduces a sample anywhere.
 */
import * as path from 'node:path';
import { createRng } from '../../extensions/geometry-ldm/src/diffusion/rng';
import { bundleForBrowser, launchChromium, type LaunchedBrowser } from '../support/browser';

const SEEDS: Array<number | string> = [0, 1, 42, 0xffffffff, 'study-1', 'batch-7/item-12'];
const COUNT = 4096;

/** Runs inside the browser (page or worker): stream as hex of the float64 bits, exact. */
function streamInBrowser(
  lib: typeof import('../../extensions/geometry-ldm/src/diffusion/rng'),
  seeds: Array<number | string>,
  count: number,
) {
  const f = new Float64Array(1);
  const u = new Uint32Array(f.buffer);
  return seeds.map((seed) => {
    const rng = lib.createRng(seed);
    const uints: number[] = [];
    const gauss: string[] = [];
    for (let n = 0; n < count; n++) {
      uints.push(rng.nextUint32());
      f[0] = rng.nextGaussian();
      gauss.push(u[1].toString(16) + ':' + u[0].toString(16));
    }
    return { uints, gauss };
  });
}

describe('seeded RNG: Node and chromium agree bit for bit', () => {
  let launched: LaunchedBrowser;
  let script: string;

  beforeAll(async () => {
    script = await bundleForBrowser(
      path.resolve(__dirname, '../../extensions/geometry-ldm/src/diffusion/rng.ts'),
      'gldmRng',
    );
    launched = await launchChromium();
  });
  afterAll(async () => {
    await launched?.close();
  });

  const expected = () => streamInBrowser({ createRng } as never, SEEDS, COUNT);

  it('in a page', async () => {
    const page = await launched.browser.newPage();
    await page.addScriptTag({ content: script });
    const got = await page.evaluate(
      ({ fn, seeds, count }) =>
        new Function('lib', 'seeds', 'count', `return (${fn})(lib, seeds, count)`)(
          (globalThis as never as { gldmRng: unknown }).gldmRng,
          seeds,
          count,
        ),
      { fn: streamInBrowser.toString(), seeds: SEEDS, count: COUNT },
    );
    expect(got).toEqual(expected());
    await page.close();
  });

  it('in a Web Worker', async () => {
    const page = await launched.browser.newPage();
    const got = await page.evaluate(
      async ({ lib, fn, seeds, count }) => {
        const src = `${lib}\nconst run = ${fn};\nself.onmessage = (e) => self.postMessage(run(self.gldmRng, e.data.seeds, e.data.count));`;
        const worker = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
        const result = await new Promise((resolve, reject) => {
          worker.onmessage = (e) => resolve(e.data);
          worker.onerror = (e) => reject(new Error(e.message));
          worker.postMessage({ seeds, count });
        });
        worker.terminate();
        return result;
      },
      { lib: script, fn: streamInBrowser.toString(), seeds: SEEDS, count: COUNT },
    );
    expect(got).toEqual(expected());
    await page.close();
  });
});
