import type { DicomJsonDataset } from './dicomJson';
import { makeBatches, parseStowResponse, stowInstances, type StowInstance } from './stow';
import type { DicomwebTransport, HttpRequest, HttpResponse } from './transport';
import { DicomError } from './errors';

const inst = (n: number, size = 10): StowInstance => ({
  bytes: new Uint8Array(size),
  studyInstanceUid: '1.2',
  seriesInstanceUid: '1.2.3',
  sopInstanceUid: `1.2.3.${n}`,
});

function json(status: number, ds: DicomJsonDataset): HttpResponse {
  return {
    status,
    contentType: 'application/dicom+json',
    body: new TextEncoder().encode(JSON.stringify(ds)),
  };
}
const refSeq = (uids: string[]) => ({
  vr: 'SQ',
  Value: uids.map((u) => ({ '00081155': { vr: 'UI', Value: [u] } })),
});
const failSeq = (uids: string[]) => ({
  vr: 'SQ',
  Value: uids.map((u) => ({ '00081155': { vr: 'UI', Value: [u] }, '00081197': { vr: 'US', Value: [272] } })),
});

/** A fake PACS: `answer` decides each STOW; QIDO returns what it stored. */
function fakePacs(
  answer: (req: HttpRequest, n: number) => HttpResponse | 'network',
  stored: Set<string>,
): DicomwebTransport {
  let n = 0;
  return {
    async request(req) {
      if (req.service === 'qido') {
        return json(
          200,
          [...stored].map((u) => ({ '00080018': { vr: 'UI', Value: [u] } })) as unknown as DicomJsonDataset,
        );
      }
      const a = answer(req, n++);
      if (a === 'network') throw new DicomError('network', 'dropped');
      return a;
    },
  };
}

test('parseStowResponse reads stored and failed SOPs', () => {
  const r = parseStowResponse(json(202, { '00081199': refSeq(['1.1']), '00081198': failSeq(['1.2']) }));
  expect(r.stored).toEqual(['1.1']);
  expect(r.failed).toEqual([{ sopInstanceUid: '1.2', reason: 'processing failure (0x0110)' }]);
});

test('makeBatches respects counts and bytes', () => {
  const b = makeBatches([inst(1, 60), inst(2, 60), inst(3, 10), inst(4, 10), inst(5, 10)], 2, 100);
  expect(b.map((x) => x.map((i) => i.sopInstanceUid))).toEqual([
    ['1.2.3.1'],
    ['1.2.3.2', '1.2.3.3'],
    ['1.2.3.4', '1.2.3.5'],
  ]);
});

test('retries network errors and 5xx with exponential backoff, then succeeds', async () => {
  const stored = new Set<string>();
  const waits: number[] = [];
  const t = fakePacs((_req, n) => {
    if (n === 0) return 'network';
    if (n === 1) return { status: 503, contentType: 'text/plain', body: new Uint8Array() };
    ['1.2.3.1', '1.2.3.2'].forEach((u) => stored.add(u));
    return json(200, { '00081199': refSeq(['1.2.3.1', '1.2.3.2']) });
  }, stored);
  const r = await stowInstances(t, [inst(1), inst(2)], {
    backoffMs: 100,
    sleep: async (ms) => void waits.push(ms),
  });
  expect(waits).toEqual([100, 200]);
  expect(r.stored).toEqual(['1.2.3.1', '1.2.3.2']);
  expect(r.verified).toBe(true);
});

test('acknowledged but missing from QIDO is never a success', async () => {
  const t = fakePacs(() => json(200, { '00081199': refSeq(['1.2.3.1']) }), new Set());
  await expect(stowInstances(t, [inst(1)], { sleep: async () => {} })).rejects.toMatchObject({
    code: 'verify-failed',
  });
});

test('a 400 that stored some: partial-store with both lists', async () => {
  const stored = new Set(['1.2.3.1']);
  const t = fakePacs(
    () => json(400, { '00081199': refSeq(['1.2.3.1']), '00081198': failSeq(['1.2.3.2']) }),
    stored,
  );
  const e = await stowInstances(t, [inst(1), inst(2)], { sleep: async () => {} }).catch((x) => x);
  expect(e.code).toBe('partial-store');
  expect(e.details.stored).toEqual(['1.2.3.1']);
  expect(e.details.notStored).toEqual([{ sopInstanceUid: '1.2.3.2', reason: 'processing failure (0x0110)' }]);
});

/** A fake PACS whose QIDO answers at most `cap` results, honouring offset or not, and UID lists. */
function cappedPacs(
  stored: string[],
  cap: number,
  honoursOffset: boolean,
): { t: DicomwebTransport; queries: string[] } {
  const queries: string[] = [];
  const t: DicomwebTransport = {
    async request(req) {
      if (req.service === 'stow') return json(200, { '00081199': refSeq(stored) });
      const q = req.query ?? {};
      queries.push(JSON.stringify(q));
      const list = q.SOPInstanceUID ? String(q.SOPInstanceUID).split(',') : null;
      let hits = list ? stored.filter((u) => list.includes(u)) : stored;
      if (honoursOffset && q.offset) hits = hits.slice(Number(q.offset));
      hits = hits.slice(0, Math.min(cap, q.limit ? Number(q.limit) : Infinity));
      return json(
        200,
        hits.map((u) => ({ '00080018': { vr: 'UI', Value: [u] } })) as unknown as DicomJsonDataset,
      );
    },
  };
  return { t, queries };
}

test.each([true, false])(
  'final QIDO check through a PACS capping results at 3 (offset honoured: %p) finds all 10',
  async (honoursOffset) => {
    const all = Array.from({ length: 10 }, (_, n) => inst(n + 1));
    const { t, queries } = cappedPacs(
      all.map((i) => i.sopInstanceUid),
      3,
      honoursOffset,
    );
    const r = await stowInstances(t, all, { sleep: async () => {} });
    expect(r.verified).toBe(true);
    expect(r.stored).toHaveLength(10);
    expect(queries.length).toBeGreaterThan(1);
  },
);

test('final QIDO check: an instance really missing behind a capped PACS is reported missing', async () => {
  const all = Array.from({ length: 10 }, (_, n) => inst(n + 1));
  const { t } = cappedPacs(
    all.slice(0, 9).map((i) => i.sopInstanceUid),
    3,
    false,
  );
  const e = await stowInstances(t, all, { sleep: async () => {} }).catch((x) => x);
  expect(e.code).toBe('partial-store');
  expect(e.details.stored).toHaveLength(9);
  expect(e.details.notStored.map((f: { sopInstanceUid: string }) => f.sopInstanceUid)).toEqual(['1.2.3.10']);
});

/** A fake PACS that records what it was sent, stores it, and can stop answering after some STOWs. */
function recordingPacs(stored: Set<string>, answerStows = Infinity, answerQido = true) {
  const sent: string[][] = [];
  let stows = 0;
  const t: DicomwebTransport = {
    async request(req) {
      if (req.service === 'qido') {
        if (!answerQido) throw new DicomError('network', 'timed out after 120 s without a complete answer');
        return json(
          200,
          [...stored].map((u) => ({ '00080018': { vr: 'UI', Value: [u] } })) as unknown as DicomJsonDataset,
        );
      }
      if (stows++ >= answerStows)
        throw new DicomError('network', 'timed out after 120 s without a complete answer');
      const uids = (req.body ? new TextDecoder('latin1').decode(req.body) : '').match(/1\.2\.3\.\d+/g) ?? [];
      sent.push(uids);
      uids.forEach((u) => stored.add(u));
      return json(200, { '00081199': refSeq(uids) });
    },
  };
  return { t, sent };
}

/** Instances whose bytes carry their own UID, so the fake PACS can tell what a batch held. */
const tagged = (n: number): StowInstance => ({
  ...inst(n),
  bytes: new TextEncoder().encode(`DICM 1.2.3.${n} `),
});

test('skipPresent: a rerun sends only what the PACS lacks and completes the same series', async () => {
  const stored = new Set(['1.2.3.1', '1.2.3.3']);
  const { t, sent } = recordingPacs(stored);
  const all = [1, 2, 3, 4].map(tagged);
  const r = await stowInstances(t, all, { skipPresent: true, maxBatchInstances: 1, sleep: async () => {} });
  expect(sent).toEqual([['1.2.3.2'], ['1.2.3.4']]);
  expect(r.alreadyPresent).toBe(2);
  expect(r.stored).toEqual(['1.2.3.1', '1.2.3.2', '1.2.3.3', '1.2.3.4']);
  expect(r.verified).toBe(true);
  // everything there already: nothing is sent, the check still runs
  const again = recordingPacs(stored);
  const r2 = await stowInstances(again.t, all, { skipPresent: true, sleep: async () => {} });
  expect(again.sent).toEqual([]);
  expect(r2.alreadyPresent).toBe(4);
});

test('a PACS that stops answering: the rest is not sent, the wait is one batch of retries, counts from QIDO', async () => {
  const stored = new Set<string>();
  const { t, sent } = recordingPacs(stored, 2);
  const retries: number[] = [];
  const all = [1, 2, 3, 4, 5, 6].map(tagged);
  const e = await stowInstances(t, all, {
    maxBatchInstances: 1,
    concurrency: 1,
    retries: 2,
    sleep: async () => {},
    onRetry: (r) => retries.push(r.attempt),
  }).catch((x) => x);
  expect(sent).toEqual([['1.2.3.1'], ['1.2.3.2']]);
  expect(retries).toEqual([1, 2]); // batch 3 only; batches 4-6 are not tried
  expect(e.code).toBe('partial-store');
  expect(e.details.verified).toBe(true);
  expect(e.message).toMatch(
    /^series 1\.2\.3: the PACS holds 2 of 6 instances \(counted by QIDO\), 4 missing/,
  );
  const reasons = e.details.notStored.map((f: { reason: string }) => f.reason);
  expect(reasons.slice(1).every((x: string) => /^not sent: the PACS stopped answering/.test(x))).toBe(true);
});

test('when the PACS does not answer the check either, the count says "acknowledged", not "stored"', async () => {
  const stored = new Set<string>();
  const { t } = recordingPacs(stored, 1, false);
  const e = await stowInstances(t, [1, 2, 3].map(tagged), {
    maxBatchInstances: 1,
    retries: 0,
    sleep: async () => {},
  }).catch((x) => x);
  expect(e.code).toBe('partial-store');
  expect(e.details.verified).toBe(false);
  expect(e.message).toMatch(
    /^series 1\.2\.3: 1 of 3 instances acknowledged; the PACS did not answer the check, so it may hold more/,
  );
});

test('a PACS that lets requests time out: one retry, not `retries`, then the store stops', async () => {
  let stows = 0;
  const retries: number[] = [];
  const t: DicomwebTransport = {
    async request(req) {
      if (req.service === 'qido') return json(200, [] as unknown as DicomJsonDataset);
      stows++;
      throw new DicomError(
        'network',
        'POST studies failed: timed out after 120 s without a complete answer',
        {
          timedOut: true,
        },
      );
    },
  };
  const e = await stowInstances(t, [1, 2, 3].map(tagged), {
    maxBatchInstances: 1,
    concurrency: 1,
    retries: 3,
    sleep: async () => {},
    onRetry: (r) => retries.push(r.attempt),
  }).catch((x) => x);
  expect(stows).toBe(2);
  expect(retries).toEqual([1]);
  expect(e.code).toBe('network');
  expect(e.message).toMatch(/^series 1\.2\.3: none of the 3 instances was stored: .*timed out after 120 s/);
});

test('batches go out `concurrency` at a time (default 2), and every instance is accounted for', async () => {
  let inFlight = 0;
  let most = 0;
  const stored = new Set<string>();
  const { t: record } = recordingPacs(stored);
  const t: DicomwebTransport = {
    async request(req) {
      if (req.service === 'qido') return record.request(req);
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return record.request(req);
    },
  };
  const all = [1, 2, 3, 4, 5, 6, 7].map(tagged);
  const r = await stowInstances(t, all, { maxBatchInstances: 1, sleep: async () => {} });
  expect(most).toBe(2);
  expect(r.stored).toEqual(all.map((i) => i.sopInstanceUid));
  most = 0;
  stored.clear();
  await stowInstances(t, all, { maxBatchInstances: 1, concurrency: 3, sleep: async () => {} });
  expect(most).toBe(3);
});
