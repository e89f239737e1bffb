import { decodeFrame, TRANSFER_SYNTAX, type FrameInfo } from './decodeFrame';
import { rleCodec } from './codecs';
import {
  createDecodePool,
  DecodeWorkerError,
  MAX_WORKER_FAILURES,
  pooledCodecs,
  serveFrameDecode,
  type DecodeReply,
  type DecodeRequest,
  type DecodeWorkerPort,
} from './decodePool';
import { DicomError } from './errors';

const INFO: FrameInfo = {
  rows: 2,
  columns: 3,
  bitsAllocated: 16,
  bitsStored: 16,
  pixelRepresentation: 1,
  samplesPerPixel: 1,
};

/** A worker in this thread: serveFrameDecode on the next tick, or held until `release`. */
function fakeWorkers() {
  const spawned: { requests: DecodeRequest[]; fail: (e: Error) => void; terminated: boolean }[] = [];
  let hold = false;
  const held: (() => void)[] = [];
  const spawn = (): DecodeWorkerPort => {
    let reply: (r: DecodeReply) => void = () => {};
    const w = { requests: [] as DecodeRequest[], fail: (_: Error) => {}, terminated: false };
    spawned.push(w);
    return {
      post(request) {
        w.requests.push(request);
        const run = () =>
          void serveFrameDecode({ [TRANSFER_SYNTAX.rle]: rleCodec }, request).then((r) => reply(r.reply));
        if (hold) held.push(run);
        else setTimeout(run, 0);
      },
      listen(onReply, onFailure) {
        reply = onReply;
        w.fail = onFailure;
      },
      terminate() {
        w.terminated = true;
      },
    };
  };
  return {
    spawn,
    spawned,
    hold: (h: boolean) => (hold = h),
    release: () => held.splice(0).forEach((f) => f()),
  };
}

/** One RLE segment per byte plane of a 16-bit frame (PS3.5 G), literal runs. */
function rleFrame(values: number[]): Uint8Array {
  const hi = values.map((v) => (v >> 8) & 0xff);
  const lo = values.map((v) => v & 0xff);
  const seg = (b: number[]) => [b.length - 1, ...b];
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, 2, true);
  dv.setUint32(4, 64, true);
  dv.setUint32(8, 64 + seg(hi).length, true);
  return new Uint8Array([...header, ...seg(hi), ...seg(lo)]);
}

test('pooled decoding gives the samples of in-place decoding; native syntaxes stay in place', async () => {
  const w = fakeWorkers();
  const pool = createDecodePool(w.spawn, 2);
  const values = [0, 1, -1, 1000, -1024, 3071];
  const frame = rleFrame(values.map((v) => v & 0xffff));
  const direct = await decodeFrame(frame, TRANSFER_SYNTAX.rle, INFO, { [TRANSFER_SYNTAX.rle]: rleCodec });
  const codecs = pooledCodecs(pool, {
    [TRANSFER_SYNTAX.rle]: rleCodec,
    [TRANSFER_SYNTAX.explicitLittle]: { name: 'le', decode: () => new Int16Array(6) },
  });
  expect(codecs[TRANSFER_SYNTAX.rle].name).toBe(rleCodec.name);
  const pooled = await decodeFrame(frame, TRANSFER_SYNTAX.rle, INFO, codecs);
  expect(Array.from(pooled)).toEqual(values);
  expect(Array.from(pooled)).toEqual(Array.from(direct));
  await decodeFrame(new Uint8Array(12), TRANSFER_SYNTAX.explicitLittle, INFO, codecs);
  expect(w.spawned.map((s) => s.requests.length)).toEqual([1]); // the native frame never left
  pool.close();
});

test('workers are spawned on demand up to the size, and requests go to the least busy', async () => {
  const w = fakeWorkers();
  const pool = createDecodePool(w.spawn, 3);
  const frame = rleFrame([1, 2, 3, 4, 5, 6]);
  w.hold(true);
  const all = Array.from({ length: 7 }, () => pool.decode(TRANSFER_SYNTAX.rle, frame, INFO));
  expect(w.spawned.map((s) => s.requests.length)).toEqual([3, 2, 2]);
  w.release();
  for (const f of await Promise.all(all)) expect(Array.from(f)).toEqual([1, 2, 3, 4, 5, 6]);
  // idle again: the next request reuses a worker
  w.hold(false);
  await pool.decode(TRANSFER_SYNTAX.rle, frame, INFO);
  expect(w.spawned).toHaveLength(3);
  pool.close();
  expect(w.spawned.every((s) => s.terminated)).toBe(true);
  await expect(pool.decode(TRANSFER_SYNTAX.rle, frame, INFO)).rejects.toThrow('closed');
});

test('a codec error keeps its code and words; a dead worker fails only its own requests and is replaced', async () => {
  const w = fakeWorkers();
  const pool = createDecodePool(w.spawn, 2);
  const bad = rleFrame([1, 2, 3, 4, 5, 6]).slice(0, 70);
  const inPlace = await decodeFrame(
    bad,
    TRANSFER_SYNTAX.rle,
    INFO,
    { [TRANSFER_SYNTAX.rle]: rleCodec },
    'f1',
  ).catch((e) => e);
  const pooled = await decodeFrame(
    bad,
    TRANSFER_SYNTAX.rle,
    INFO,
    pooledCodecs(pool, { [TRANSFER_SYNTAX.rle]: rleCodec }),
    'f1',
  ).catch((e) => e);
  expect(inPlace).toBeInstanceOf(DicomError);
  expect(pooled).toBeInstanceOf(DicomError);
  expect(pooled.code).toBe(inPlace.code);
  expect(pooled.message).toBe(inPlace.message);

  w.hold(true);
  const frame = rleFrame([1, 2, 3, 4, 5, 6]);
  const a = pool.decode(TRANSFER_SYNTAX.rle, frame, INFO);
  const b = pool.decode(TRANSFER_SYNTAX.rle, frame, INFO);
  expect(w.spawned).toHaveLength(2);
  w.spawned[1].fail(new Error('out of memory'));
  await expect(b).rejects.toThrow('the decode worker stopped: out of memory');
  w.release();
  expect(Array.from(await a)).toEqual([1, 2, 3, 4, 5, 6]);
  w.hold(false);
  const c = pool.decode(TRANSFER_SYNTAX.rle, frame, INFO);
  const d = pool.decode(TRANSFER_SYNTAX.rle, frame, INFO);
  await Promise.all([c, d]);
  expect(w.spawned).toHaveLength(3); // the dead one was replaced
  pool.close();
});

test('workers that cannot start: the pool gives up after a few and pooled codecs decode in place', async () => {
  let spawns = 0;
  const pool = createDecodePool((): DecodeWorkerPort => {
    spawns++;
    let fail: (e: Error) => void = () => {};
    return {
      post: () => setTimeout(() => fail(new Error('404 decode-worker.js')), 0),
      listen: (_, onFailure) => (fail = onFailure),
      terminate: () => {},
    };
  }, 2);
  const codecs = pooledCodecs(pool, { [TRANSFER_SYNTAX.rle]: rleCodec });
  const frame = rleFrame([7, 8, 9, 10, 11, 12]);
  for (let i = 0; i < 5; i++)
    expect(Array.from(await decodeFrame(frame, TRANSFER_SYNTAX.rle, INFO, codecs))).toEqual([
      7, 8, 9, 10, 11, 12,
    ]);
  expect(spawns).toBe(MAX_WORKER_FAILURES);
  await expect(pool.decode(TRANSFER_SYNTAX.rle, frame, INFO)).rejects.toBeInstanceOf(DecodeWorkerError);
});

test('a pool size that is not a whole number >= 1 is refused', () => {
  expect(() => createDecodePool(fakeWorkers().spawn, 0)).toThrow('decode pool size');
});
