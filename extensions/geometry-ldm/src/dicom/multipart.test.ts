import { buildMultipart, headerParameter, parseMultipart } from './multipart';

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
