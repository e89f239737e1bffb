import { createNodeVolumeMemory } from './nodeVolumeMemory';
import { plainVolumeMemory } from './volumeMemory';

// jest's realm differs from Node's: instanceof fails across it, the tag does not
const kind = (b: ArrayBufferLike) => Object.prototype.toString.call(b).slice(8, -1);

describe('createNodeVolumeMemory', () => {
  const memory = createNodeVolumeMemory(1 << 16);
  afterAll(() => memory.close());

  test('small volumes are plain arrays; large ones shared, zeroed', async () => {
    expect(kind(memory.allocate(1000).data.buffer)).toBe('ArrayBuffer');
    const big = memory.allocate(1 << 20);
    expect(kind(big.data.buffer)).toBe('SharedArrayBuffer');
    await memory.idle();
    expect(big.data.every((v) => v === 0)).toBe(true);
    big.release();
  });

  test('what the reader writes, in any order and while the worker runs, is what it holds', async () => {
    const n = 24 << 20; // 96 MB: the worker is still touching pages while the reader writes
    const slice = 1 << 18;
    const buf = memory.allocate(n);
    const expected = (i: number) => (i % 7 === 0 ? 0 : i % 11 === 0 ? -0 : (i % 4093) - 2000.5);
    // slices in a shuffled order (per-frame reads finish out of order), progress reported
    const order = Array.from({ length: n / slice }, (_, k) => k);
    for (let i = order.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    let reached = 0;
    for (const k of order) {
      for (let i = k * slice; i < (k + 1) * slice; i++) buf.data[i] = expected(i);
      reached = Math.max(reached, (k + 1) * slice);
      buf.written(reached);
      if (k % 8 === 0) await new Promise((r) => setImmediate(r)); // let the worker run
    }
    await memory.idle();
    buf.release();
    let wrong = 0;
    for (let i = 0; i < n; i++) if (!Object.is(buf.data[i], Math.fround(expected(i)))) wrong++;
    expect(wrong).toBe(0);
  });

  test('after close, a new volume starts a new worker', async () => {
    const other = createNodeVolumeMemory(1);
    other.close();
    const buf = other.allocate(1 << 12);
    buf.data[5] = 3;
    await other.idle();
    expect(buf.data[5]).toBe(3);
    other.close();
  });

  test('the plain memory is a fresh array', () => {
    const buf = plainVolumeMemory.allocate(10);
    expect(buf.data).toEqual(new Float32Array(10));
    expect(kind(buf.data.buffer)).toBe('ArrayBuffer');
  });
});
