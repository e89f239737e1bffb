/**
 * What a failed request says: a real socket to a closed port (ECONNREFUSED), a real server that
 * trickles and never finishes (timeout), and credentials that never reach a message.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DicomError } from './errors';
import { createFetchTransport, redactUrl } from './transport';

async function failure(p: Promise<unknown>): Promise<DicomError> {
  const e = await p.then(
    () => null,
    (x) => x,
  );
  expect(e).toBeInstanceOf(DicomError);
  return e as DicomError;
}

test('a closed port: the cause (ECONNREFUSED) is named, not "fetch failed"', async () => {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  const t = createFetchTransport({ root: `http://127.0.0.1:${port}/dicom-web` });
  const e = await failure(t.request({ service: 'qido', path: 'studies' }));
  expect(e.code).toBe('network');
  expect(e.message).toMatch(
    new RegExp(`^GET http://127\\.0\\.0\\.1:${port}/dicom-web/studies failed: connect ECONNREFUSED`),
  );
});

test('a server that trickles and never finishes: "timed out after N s", not "This operation was aborted"', async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/dicom+json' });
    res.write('[');
    // never ends
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const t = createFetchTransport({ root: `http://127.0.0.1:${port}/`, timeoutMs: 1000 });
    const e = await failure(t.request({ service: 'qido', path: 'studies' }));
    expect(e.code).toBe('network');
    expect(e.message).toMatch(/failed: timed out after 1 s without a complete answer$/);
    expect(e.details.timedOut).toBe(true);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('credentials in a URL never reach a message', () => {
  expect(redactUrl('https://alice:S3cret@pacs.example.org/dicom-web/studies')).toBe(
    'https://***@pacs.example.org/dicom-web/studies',
  );
  expect(redactUrl('http://pacs/dicom-web')).toBe('http://pacs/dicom-web');
});
