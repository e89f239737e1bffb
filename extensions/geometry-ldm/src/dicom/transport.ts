/**
 * The one injectable DICOMweb transport. Everything above it (QIDO, WADO,
 * STOW) speaks `DicomwebTransport.request`; `createFetchTransport` implements
 * it over WHATWG fetch (browser, Web Worker and Node >= 18 alike), with the
 * caller's auth headers (in OHIF: the data source's `getAuthorizationHeader()`).
 * Tests inject a fake transport or a fault-injecting proxy in front of Orthanc.
 */
import { DicomError } from './errors';
import type { DicomJsonDataset } from './dicomJson';
import { ChunkedBytes } from './chunkedBytes';
import { parseMultipart, type MultipartPart } from './multipart';

export type DicomwebService = 'qido' | 'wado' | 'stow';

export interface HttpRequest {
  readonly service: DicomwebService;
  /** Path below the service root, without a leading slash (e.g. "studies/1.2/series"). */
  readonly path: string;
  readonly method?: 'GET' | 'POST';
  readonly query?: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  readonly accept?: string;
  readonly contentType?: string;
  readonly body?: Uint8Array;
  /** Aborting it ends the request with DicomError('network', details.aborted: true). */
  readonly signal?: AbortSignal;
  /**
   * An answer body longer than this ends the request as soon as that is known, with
   * DicomError('pacs-error', details.tooLarge: true): a speculative or bounded request never
   * holds more than this in memory.
   */
  readonly maxBytes?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array;
  /**
   * The body as the chunks it arrived in, when the transport kept them (their concatenation is
   * `body`, which such a transport joins only when it is asked for): readers of large answers
   * cut what they need from them without copying the whole answer (ChunkedBytes).
   */
  readonly chunks?: readonly Uint8Array[];
}

/** A response holding its received chunks; `body` joins them on first use (once). */
export function chunkedResponse(
  status: number,
  contentType: string,
  chunks: readonly Uint8Array[],
): HttpResponse {
  let joined: Uint8Array | null = null;
  return {
    status,
    contentType,
    chunks,
    get body(): Uint8Array {
      return (joined ??= ChunkedBytes.of(chunks).contiguous());
    },
  };
}

export interface DicomwebTransport {
  /** Resolves with any HTTP status; rejects with DicomError('network') when no response came. */
  request(req: HttpRequest): Promise<HttpResponse>;
  /**
   * True when the transport honours `signal` and `maxBytes` (a request can be started
   * speculatively and dropped cheaply); a transport without it may ignore both.
   */
  readonly abortable?: boolean;
}

export type HeaderProvider =
  | Readonly<Record<string, string>>
  | (() => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>);

export interface FetchTransportOptions {
  /** DICOMweb root used for all services unless overridden, e.g. http://host/dicom-web */
  readonly root: string;
  readonly qidoRoot?: string;
  readonly wadoRoot?: string;
  readonly stowRoot?: string;
  /** Extra headers on every request (e.g. Authorization), or a function giving them. */
  readonly headers?: HeaderProvider;
  readonly fetch?: typeof fetch;
  /** Abort a request after this long (ms); default 120000. */
  readonly timeoutMs?: number;
}

function joinUrl(root: string, path: string): string {
  return `${root.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

function queryString(query: HttpRequest['query']): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    const vs = Array.isArray(v) ? v : [v];
    for (const x of vs) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(x))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** A URL safe to print: user:password@ replaced (credentials never reach logs or messages). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1***@');
}

/** Why a fetch failed, in words: the timeout, or the socket's own cause (ECONNREFUSED, a TLS error), not just "fetch failed". */
function fetchFailure(e: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `timed out after ${Math.round(timeoutMs / 1000)} s without a complete answer`;
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err?.cause;
  if (cause && (cause.code || cause.message)) {
    const msg = cause.message ?? '';
    return cause.code && !msg.includes(cause.code) ? `${cause.code} ${msg}`.trim() : msg;
  }
  return err?.message ?? String(e);
}

/**
 * Where a request goes and the headers it carries, for any transport over HTTP (this one and
 * nodeHttpTransport.ts): the service's root, the caller's headers, Accept and Content-Type.
 */
export async function requestTarget(
  options: Omit<FetchTransportOptions, 'fetch' | 'timeoutMs'>,
  req: HttpRequest,
): Promise<{ url: string; headers: Record<string, string> }> {
  const roots: Record<DicomwebService, string> = {
    qido: options.qidoRoot ?? options.root,
    wado: options.wadoRoot ?? options.root,
    stow: options.stowRoot ?? options.root,
  };
  const extra = typeof options.headers === 'function' ? await options.headers() : (options.headers ?? {});
  const headers: Record<string, string> = { ...extra };
  if (req.accept) headers['Accept'] = req.accept;
  if (req.contentType) headers['Content-Type'] = req.contentType;
  return { url: joinUrl(roots[req.service], req.path) + queryString(req.query), headers };
}

export function createFetchTransport(options: FetchTransportOptions): DicomwebTransport {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 120000;
  return {
    abortable: true,
    async request(req: HttpRequest): Promise<HttpResponse> {
      const { url, headers } = await requestTarget(options, req);
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      const callerAbort = () => controller.abort();
      if (req.signal?.aborted) controller.abort();
      req.signal?.addEventListener('abort', callerAbort, { once: true });
      const shown = redactUrl(url);
      try {
        const res = await doFetch(url, {
          method: req.method ?? 'GET',
          headers,
          body: req.body as BodyInit | undefined,
          signal: controller.signal,
        });
        const contentType = res.headers.get('content-type') ?? '';
        if (req.maxBytes == null || !res.body) {
          return { status: res.status, contentType, body: new Uint8Array(await res.arrayBuffer()) };
        }
        const chunks = await readBounded(res.body, req.maxBytes, () => controller.abort());
        if (!chunks) throw tooLarge(req, shown, req.maxBytes, res.status);
        return chunkedResponse(res.status, contentType, chunks);
      } catch (e) {
        if (e instanceof DicomError) throw e;
        const aborted = !timedOut && controller.signal.aborted;
        const why = aborted ? 'aborted by the caller' : fetchFailure(e, timedOut, timeoutMs);
        throw new DicomError('network', `${req.method ?? 'GET'} ${shown} failed: ${why}`, {
          url: shown,
          cause: redactUrl(String((e as Error & { cause?: unknown }).cause ?? e)),
          timedOut,
          ...(aborted ? { aborted: true } : {}),
        });
      } finally {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', callerAbort);
      }
    },
  };
}

/** The error for an answer over `HttpRequest.maxBytes` (both transports). */
export function tooLarge(req: HttpRequest, shownUrl: string, maxBytes: number, status: number): DicomError {
  return new DicomError(
    'pacs-error',
    `${req.method ?? 'GET'} ${shownUrl}: the answer is larger than ${maxBytes} bytes; not read further`,
    { url: shownUrl, status, tooLarge: true, maxBytes },
  );
}

/** A response body read to its end (its chunks), or null (and `stop()` called) once it passes maxBytes. */
async function readBounded(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  stop: () => void,
): Promise<Uint8Array[] | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > maxBytes) {
      stop();
      return null;
    }
    chunks.push(value);
  }
  return chunks;
}

/** The typed error for a non-2xx response (401/403, 409, 404, anything else). */
export function httpError(res: HttpResponse, what: string): DicomError {
  const text = new TextDecoder().decode(res.body.subarray(0, 2000));
  const details = { status: res.status, body: text };
  if (res.status === 401 || res.status === 403) {
    return new DicomError(
      'pacs-unauthorized',
      `${what}: the PACS refused the credentials (HTTP ${res.status})`,
      details,
    );
  }
  if (res.status === 409) return new DicomError('pacs-conflict', `${what}: conflict (HTTP 409)`, details);
  if (res.status === 404) return new DicomError('not-found', `${what}: not found (HTTP 404)`, details);
  return new DicomError('pacs-error', `${what}: HTTP ${res.status}`, details);
}

/** GET returning DICOM JSON (QIDO results or WADO metadata). 204 -> []. */
export async function getDicomJson(
  transport: DicomwebTransport,
  service: 'qido' | 'wado',
  path: string,
  query?: HttpRequest['query'],
): Promise<DicomJsonDataset[]> {
  const res = await transport.request({ service, path, query, accept: 'application/dicom+json' });
  if (res.status === 204) return [];
  if (res.status < 200 || res.status >= 300) throw httpError(res, `GET ${path}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(res.body));
  } catch {
    throw new DicomError('pacs-error', `GET ${path}: the response is not JSON`, { status: res.status });
  }
  if (!Array.isArray(parsed)) throw new DicomError('pacs-error', `GET ${path}: expected a JSON array`);
  return parsed as DicomJsonDataset[];
}

/** Accept header for frames in whatever transfer syntax the PACS holds them (decoded on the client). */
export const ACCEPT_ANY_FRAME = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
/** Whole instances (Part 10) as stored: series-level retrieval. */
export const ACCEPT_ANY_INSTANCE = 'multipart/related; type="application/dicom"; transfer-syntax=*';
/** Frames transcoded by the PACS to explicit VR little endian: the fallback when `*` is refused. */
export const ACCEPT_EXPLICIT_LE_FRAME =
  'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1';

/**
 * GET returning multipart/related (WADO-RS frames, instances or bulk data). The parts stay in
 * the chunks the answer arrived in when the transport kept them (nothing joined or copied).
 */
export async function getMultipart(
  transport: DicomwebTransport,
  path: string,
  accept = ACCEPT_ANY_FRAME,
  bounds: Pick<HttpRequest, 'signal' | 'maxBytes'> = {},
): Promise<{ parts: MultipartPart<ChunkedBytes>[]; contentType: string }> {
  const res = await transport.request({ service: 'wado', path, accept, ...bounds });
  if (res.status < 200 || res.status >= 300) throw httpError(res, `GET ${path}`);
  const body = ChunkedBytes.of(res.chunks ?? [res.body]);
  return { parts: parseMultipart(body, res.contentType), contentType: res.contentType };
}
