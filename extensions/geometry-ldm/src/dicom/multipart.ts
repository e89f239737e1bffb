/**
 * multipart/related bodies (RFC 2387) as used by WADO-RS and STOW-RS.
 * Pure byte handling (Uint8Array), no dependencies.
 */
import { DicomError } from './errors';

export interface MultipartPart {
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
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

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  outer: for (let n = hay.indexOf(first, from); n !== -1 && n <= last; n = hay.indexOf(first, n + 1)) {
    for (let m = 1; m < needle.length; m++) if (hay[n + m] !== needle[m]) continue outer;
    return n;
  }
  return -1;
}

/** Splits a multipart body into parts. Throws DicomError('pacs-error') on a malformed body. */
export function parseMultipart(body: Uint8Array, contentType: string): MultipartPart[] {
  const boundary = headerParameter(contentType, 'boundary');
  if (!boundary) throw new DicomError('pacs-error', `no boundary in Content-Type "${contentType}"`);
  const enc = new TextEncoder();
  const delimiter = enc.encode(`--${boundary}`);
  const crlfDelimiter = enc.encode(`\r\n--${boundary}`);
  const crlf2 = enc.encode('\r\n\r\n');
  let pos = indexOf(body, delimiter, 0);
  if (pos < 0) throw new DicomError('pacs-error', 'multipart body has no boundary delimiter');
  const parts: MultipartPart[] = [];
  for (;;) {
    pos += delimiter.length;
    // "--" after the delimiter closes the body.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break;
    // skip transport padding up to CRLF
    const lineEnd = body.indexOf(0x0a, pos);
    if (lineEnd < 0) throw new DicomError('pacs-error', 'truncated multipart body (no part header)');
    const headerStart = lineEnd + 1;
    let headerEnd: number;
    let bodyStart: number;
    if (body[headerStart] === 0x0d && body[headerStart + 1] === 0x0a) {
      headerEnd = headerStart;
      bodyStart = headerStart + 2;
    } else {
      headerEnd = indexOf(body, crlf2, headerStart);
      if (headerEnd < 0)
        throw new DicomError('pacs-error', 'truncated multipart body (part header not closed)');
      bodyStart = headerEnd + 4;
    }
    const headers: Record<string, string> = {};
    for (const line of latin1(body.subarray(headerStart, headerEnd)).split(/\r?\n/)) {
      const c = line.indexOf(':');
      if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    let end = -1;
    const declared = headers['content-length'] != null ? Number(headers['content-length']) : NaN;
    if (Number.isInteger(declared) && declared >= 0) {
      const candidate = bodyStart + declared;
      if (
        candidate + crlfDelimiter.length <= body.length &&
        indexOf(body, crlfDelimiter, candidate) === candidate
      ) {
        end = candidate;
      }
    }
    if (end < 0) end = indexOf(body, crlfDelimiter, bodyStart);
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
    if (bodies.every((body) => indexOf(body, needle, 0) < 0)) return b;
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
