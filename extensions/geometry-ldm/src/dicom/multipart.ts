/**
 * multipart/related bodies (RFC 2387) as used by WADO-RS and STOW-RS.
 * Pure byte handling (Uint8Array, or ChunkedBytes for an answer kept as received), no dependencies.
 */
import { ChunkedBytes } from './chunkedBytes';
import { DicomError } from './errors';

export interface MultipartPart<Body = Uint8Array> {
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Body;
}

/** Parameter `name` of a header value such as `multipart/related; type="..."; boundary=xyz`. */
export function headerParameter(headerValue: string, name: string): string | null {
  const re = new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*("([^"]*)"|[^;]*)`, 'i');
  const m = re.exec(headerValue);
  if (!m) return null;
  return (m[2] ?? m[1]).trim();
}

const latin1 = (bytes: Uint8Array): string => {
  let s = '';
  for (let n = 0; n < bytes.length; n++) s += String.fromCharCode(bytes[n]);
  return s;
};

/**
 * Splits a multipart body into parts. Throws DicomError('pacs-error') on a malformed body.
 * A body held as received chunks gives parts that stay in those chunks (nothing is copied but
 * the part headers); a Uint8Array gives views of it.
 */
export function parseMultipart(body: Uint8Array, contentType: string): MultipartPart[];
export function parseMultipart(body: ChunkedBytes, contentType: string): MultipartPart<ChunkedBytes>[];
export function parseMultipart(
  input: Uint8Array | ChunkedBytes,
  contentType: string,
): MultipartPart[] | MultipartPart<ChunkedBytes>[] {
  const body = input instanceof ChunkedBytes ? input : ChunkedBytes.of([input]);
  const parts = splitParts(body, contentType);
  // one chunk: every part is a view of the caller's array
  return input instanceof ChunkedBytes
    ? parts
    : parts.map((p) => ({ headers: p.headers, body: p.body.view()! }));
}

function splitParts(body: ChunkedBytes, contentType: string): MultipartPart<ChunkedBytes>[] {
  const boundary = headerParameter(contentType, 'boundary');
  if (!boundary) throw new DicomError('pacs-error', `no boundary in Content-Type "${contentType}"`);
  const enc = new TextEncoder();
  const delimiter = enc.encode(`--${boundary}`);
  const crlfDelimiter = enc.encode(`\r\n--${boundary}`);
  const crlf2 = enc.encode('\r\n\r\n');
  let pos = body.indexOf(delimiter, 0);
  if (pos < 0) throw new DicomError('pacs-error', 'multipart body has no boundary delimiter');
  const parts: MultipartPart<ChunkedBytes>[] = [];
  for (;;) {
    pos += delimiter.length;
    // "--" after the delimiter closes the body.
    if (body.at(pos) === 0x2d && body.at(pos + 1) === 0x2d) break;
    // skip transport padding up to CRLF
    const lineEnd = body.indexOfByte(0x0a, pos);
    if (lineEnd < 0) throw new DicomError('pacs-error', 'truncated multipart body (no part header)');
    const headerStart = lineEnd + 1;
    let headerEnd: number;
    let bodyStart: number;
    if (body.at(headerStart) === 0x0d && body.at(headerStart + 1) === 0x0a) {
      headerEnd = headerStart;
      bodyStart = headerStart + 2;
    } else {
      headerEnd = body.indexOf(crlf2, headerStart);
      if (headerEnd < 0)
        throw new DicomError('pacs-error', 'truncated multipart body (part header not closed)');
      bodyStart = headerEnd + 4;
    }
    const headers: Record<string, string> = {};
    for (const line of latin1(body.subarray(headerStart, headerEnd).contiguous()).split(/\r?\n/)) {
      const c = line.indexOf(':');
      if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    let end = -1;
    const declared = headers['content-length'] != null ? Number(headers['content-length']) : NaN;
    if (Number.isInteger(declared) && declared >= 0) {
      const candidate = bodyStart + declared;
      if (
        candidate + crlfDelimiter.length <= body.length &&
        body.indexOf(crlfDelimiter, candidate) === candidate
      ) {
        end = candidate;
      }
    }
    if (end < 0) end = body.indexOf(crlfDelimiter, bodyStart);
    if (end < 0) throw new DicomError('pacs-error', 'truncated multipart body (no closing delimiter)');
    parts.push({ headers, body: body.subarray(bodyStart, end) });
    pos = end + 2;
  }
  return parts;
}

/** A boundary that cannot occur in the given bodies (random, checked). */
export function makeBoundary(bodies: readonly Uint8Array[] = []): string {
  for (;;) {
    const b = `geometry-ldm-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    const needle = new TextEncoder().encode(`--${b}`);
    if (bodies.every((body) => ChunkedBytes.of([body]).indexOf(needle) < 0)) return b;
  }
}

/** Builds a multipart/related body; returns it with the Content-Type to send. */
export function buildMultipart(
  bodies: readonly Uint8Array[],
  partContentType: string,
  relatedType = partContentType,
): { body: Uint8Array; contentType: string } {
  const boundary = makeBoundary(bodies);
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const b of bodies) {
    chunks.push(
      enc.encode(`--${boundary}\r\nContent-Type: ${partContentType}\r\nContent-Length: ${b.length}\r\n\r\n`),
    );
    chunks.push(b);
    chunks.push(enc.encode('\r\n'));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const body = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    body.set(c, off);
    off += c.length;
  }
  return { body, contentType: `multipart/related; type="${relatedType}"; boundary=${boundary}` };
}
