import { ChunkedBytes } from './chunkedBytes';
import { buildMultipart, headerParameter, makeBoundary, parseMultipart } from './multipart';

test('build -> parse round trip with binary bodies (CRLF and dashes inside)', () => {
  const enc = new TextEncoder();
  const bodies = [
    enc.encode('\r\n--not-a-boundary\r\n\r\n'),
    new Uint8Array([0, 255, 13, 10, 45, 45]),
    new Uint8Array(0),
  ];
  const { body, contentType } = buildMultipart(bodies, 'application/dicom');
  expect(headerParameter(contentType, 'type')).toBe('application/dicom');
  const parts = parseMultipart(body, contentType);
  expect(parts.map((p) => Array.from(p.body))).toEqual(bodies.map((b) => Array.from(b)));
  expect(parts[0].headers['content-type']).toBe('application/dicom');
});

test('parses parts without Content-Length and with a quoted boundary', () => {
  const text =
    '--b1\r\nContent-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.90\r\n\r\nABC\r\n--b1\r\n\r\nDE\r\n--b1--\r\n';
  const parts = parseMultipart(
    new TextEncoder().encode(text),
    'multipart/related; type="application/octet-stream"; boundary="b1"',
  );
  expect(parts.map((p) => new TextDecoder().decode(p.body))).toEqual(['ABC', 'DE']);
  expect(headerParameter(parts[0].headers['content-type'], 'transfer-syntax')).toBe('1.2.840.10008.1.2.4.90');
});

test('a truncated body is a pacs-error', () => {
  const text = '--b1\r\nContent-Type: x\r\n\r\nABC';
  expect(() => parseMultipart(new TextEncoder().encode(text), 'multipart/related; boundary=b1')).toThrow(
    expect.objectContaining({ code: 'pacs-error' }),
  );
});

test('a body held as received chunks parses to the same parts, cut anywhere', () => {
  const enc = new TextEncoder();
  const bodies = [enc.encode('\r\n--x\r\n'), new Uint8Array(300).map((_, i) => i & 255), new Uint8Array(0)];
  const { body, contentType } = buildMultipart(bodies, 'application/dicom');
  const want = parseMultipart(body, contentType).map((p) => Buffer.from(p.body).toString('hex'));
  // every single cut, then cuts every 3 bytes (delimiters and headers split across chunks)
  const cuttings = [
    ...Array.from({ length: body.length + 1 }, (_, k) => [body.slice(0, k), body.slice(k)]),
    Array.from({ length: Math.ceil(body.length / 3) }, (_, k) => body.slice(3 * k, 3 * k + 3)),
  ];
  for (const chunks of cuttings) {
    const parts = parseMultipart(ChunkedBytes.of(chunks), contentType);
    expect(parts.map((p) => Buffer.from(p.body.contiguous()).toString('hex'))).toEqual(want);
    expect(parts[0].headers['content-type']).toBe('application/dicom');
  }
  // a part inside one chunk is a view of it, not a copy
  const single = parseMultipart(ChunkedBytes.of([body]), contentType);
  expect(single[1].body.view()!.buffer).toBe(body.buffer);
});

test('makeBoundary never picks a boundary that occurs in a body', () => {
  const random = jest.spyOn(Math, 'random');
  try {
    random.mockReturnValue(0.5);
    const taken = makeBoundary();
    // the first candidate is `taken` again; it occurs in the body (not at its start), so the
    // second candidate must be chosen
    random.mockReset().mockReturnValueOnce(0.5).mockReturnValueOnce(0.5).mockReturnValue(0.25);
    const body = new TextEncoder().encode(`\r\nxx--${taken}\r\n`);
    const chosen = makeBoundary([new Uint8Array(3), body]);
    expect(chosen).not.toBe(taken);
    expect(new TextDecoder().decode(body)).not.toContain(`--${chosen}`);
  } finally {
    random.mockRestore();
  }
});
