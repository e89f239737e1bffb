import {
  lostJobText,
  markJobEnded,
  markJobStarted,
  MEMORY_KEYS,
  pageMemory,
  takeLostJob,
} from './pageMemory';

function storage() {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    m,
  };
}

test('settings survive as JSON; foreign values and blocked storage read as nothing', () => {
  const s = storage();
  const mem = pageMemory(s);
  mem.set(MEMORY_KEYS.superResolveForm('1.2.3'), { presetId: 'x2', seed: 4 });
  expect(pageMemory(s).get(MEMORY_KEYS.superResolveForm('1.2.3'))).toEqual({ presetId: 'x2', seed: 4 });
  expect(pageMemory(s).get(MEMORY_KEYS.superResolveForm('9.9'))).toBeNull();
  s.setItem(MEMORY_KEYS.generateForm, '{not json');
  expect(mem.get(MEMORY_KEYS.generateForm)).toBeNull();
  const blocked = pageMemory({
    getItem: () => {
      throw new Error('SecurityError');
    },
    setItem: () => {
      throw new Error('QuotaExceededError');
    },
    removeItem: () => undefined,
  });
  expect(() => blocked.set('k', 1)).not.toThrow();
  expect(blocked.get('k')).toBeNull();
  expect(pageMemory(null).get('k')).toBeNull();
});

test('a job marker left by a page that did not finish is reported once; a finished job leaves none', () => {
  const s = storage();
  markJobStarted(pageMemory(s), 'generate', { what: 'generation of 2 samples', startedAt: 1000 });
  markJobEnded(pageMemory(s), 'generate');
  expect(takeLostJob(pageMemory(s), 'generate')).toBeNull();

  markJobStarted(pageMemory(s), 'super-resolve', { what: 'super-resolution', startedAt: 2000 });
  // ... the page reloads here: a new page reads the same tab storage
  expect(takeLostJob(pageMemory(s), 'generate')).toBeNull();
  expect(takeLostJob(pageMemory(s), 'super-resolve')).toEqual({ what: 'super-resolution', startedAt: 2000 });
  expect(takeLostJob(pageMemory(s), 'super-resolve')).toBeNull();
});

test('the lost-job notice names the job and says what to do', () => {
  const started = new Date(2026, 11, 3, 14, 2, 5).getTime();
  expect(lostJobText({ what: 'super-resolution', startedAt: started }, new Date(2026, 11, 3, 14, 5))).toMatch(
    /^The super-resolution started at 14:02 was lost: the page was reloaded or closed while it ran\. Its settings are restored below; run it again\.$/,
  );
  expect(lostJobText({ what: 'generation', startedAt: started }, new Date(2026, 11, 4, 9, 0))).toMatch(
    /^The generation started at 2026-12-03 14:02 was lost/,
  );
});
