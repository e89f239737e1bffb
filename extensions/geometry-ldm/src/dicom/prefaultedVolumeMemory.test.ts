import { createPrefaultedVolumeMemory, TOUCHER_SOURCE, type SpawnToucher } from './prefaultedVolumeMemory';

const kind = (b: ArrayBufferLike) => Object.prototype.toString.call(b).slice(8, -1);

const touch = new Function(`return ${TOUCHER_SOURCE}`)() as (
  sab: SharedArrayBuffer,
  ctl: SharedArrayBuffer,
) => void;

/** A helper run in this thread (the shared source, as the workers run it); it answers a tick later. */
function inlineSpawn(log: string[]): SpawnToucher {
  return (events) => {
    log.push('spawn');
    return {
      post: ({ sab, ctl }) => {
        touch(sab, ctl);
        setTimeout(events.done, 0);
      },
      terminate: () => log.push('terminate'),
    };
  };
}

test('the helper leaves zeros zero and every written value as written (-0 included)', async () => {
  const log: string[] = [];
  const memory = createPrefaultedVolumeMemory(inlineSpawn(log), 1);
  const n = 5000; // not a whole number of pages
  const fresh = memory.allocate(n);
  const written = memory.allocate(n);
  expect(kind(fresh.data.buffer)).toBe('SharedArrayBuffer');
  const value = (i: number) => (i % 3 === 0 ? -0 : i - 2500.25);
  for (let i = 0; i < n; i++) written.data[i] = value(i);
  touch(written.data.buffer as SharedArrayBuffer, new SharedArrayBuffer(8)); // a late pass
  let wrong = 0;
  for (let i = 0; i < n; i++) if (!Object.is(written.data[i], Math.fround(value(i)))) wrong++;
  expect(wrong).toBe(0);
  expect(fresh.data.every((v) => Object.is(v, 0))).toBe(true);
  await memory.idle();
  expect(memory.stats()).toEqual({ passes: 2, lost: 0 });
  expect(log).toEqual(['spawn']); // one helper for both volumes
  memory.close();
  expect(log).toEqual(['spawn', 'terminate']);
});

test('no helper where it cannot start, or where shared memory cannot be posted: plain arrays', () => {
  const refused = createPrefaultedVolumeMemory(() => {
    throw new Error('worker-src forbids it');
  }, 1);
  expect(kind(refused.allocate(10).data.buffer)).toBe('ArrayBuffer');
  const noPost = createPrefaultedVolumeMemory(
    () => ({
      post: () => {
        throw new Error('DataCloneError');
      },
      terminate: () => undefined,
    }),
    1,
  );
  const buf = noPost.allocate(10);
  expect(kind(buf.data.buffer)).toBe('ArrayBuffer');
  return noPost.idle(); // nothing pending
});

test('a lost helper settles its volumes and is replaced at the next one', async () => {
  const spawned: { done(): void; lost(): void }[] = [];
  const memory = createPrefaultedVolumeMemory((events) => {
    spawned.push(events);
    return { post: () => undefined, terminate: () => undefined };
  }, 1);
  const a = memory.allocate(100);
  a.data[3] = 7;
  let idle = false;
  const waiting = memory.idle().then(() => (idle = true));
  await Promise.resolve();
  expect(idle).toBe(false); // its pass has not ended
  spawned[0].lost();
  await waiting;
  spawned[0].lost(); // a second report of the same loss changes nothing
  expect(memory.stats()).toEqual({ passes: 0, lost: 1 });
  memory.allocate(100);
  expect(spawned).toHaveLength(2);
  expect(a.data[3]).toBe(7);
});
