/**
 * The DicomwebTransport for Node (CLI, benchmarks, tests) on node:http / node:https.
 *
 * Same contract, headers, errors and redaction as createFetchTransport (transport.ts), which
 * stays the browser's. Why a second one: Node's fetch (undici) hands a body over in web-stream
 * chunks and copies it again to make the ArrayBuffer; a 70 MB series-level answer from Orthanc
 * on loopback took 200-370 ms through fetch against 140 ms through node:http and 57-80 ms for
 * curl (BENCHMARKS.md). Node-only: never imported by the browser bundle (dicom/index.ts does not
 * export it).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { DicomError } from './errors';
import {
  chunkedResponse,
  redactUrl,
  requestTarget,
  tooLarge,
  type DicomwebTransport,
  type FetchTransportOptions,
  type HttpRequest,
  type HttpResponse,
} from './transport';

export interface NodeHttpTransportOptions extends Omit<FetchTransportOptions, 'fetch'> {
  /** Sockets per host kept open and reused (default 16: the most frames read in flight). */
  readonly maxSockets?: number;
}

export interface NodeHttpTransport extends DicomwebTransport {
  /** Closes the idle kept-alive sockets (they never keep the process alive). */
  close(): void;
}

/** Why a request failed, in words (the socket's own code first, as fetchFailure does). */
function failure(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = err?.message ?? String(e);
  return err?.code && !msg.includes(err.code) ? `${err.code} ${msg}` : msg;
}

export function createNodeHttpTransport(options: NodeHttpTransportOptions): NodeHttpTransport {
  const timeoutMs = options.timeoutMs ?? 120000;
  const maxSockets = options.maxSockets ?? 16;
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets }),
    'https:': new https.Agent({ keepAlive: true, maxSockets }),
  };
  return {
    abortable: true,
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
    async request(req: HttpRequest): Promise<HttpResponse> {
      const target = await requestTarget(options, req);
      const headers: Record<string, string | number> = target.headers;
      if (req.body) headers['Content-Length'] = req.body.length;
      const first = target.url;
      const method = req.method ?? 'GET';
      const deadline = Date.now() + timeoutMs;
      let url = first;
      // Redirects are followed as fetch follows them, but only within the PACS's origin: the
      // credentials go to no other host, and an http -> https redirect names the URL to use.
      for (let hop = 0; ; hop++) {
        const { response: res, location } = await exchange(
          req,
          method,
          url,
          headers,
          deadline,
          timeoutMs,
          agents,
        );
        const redirect = location != null && [301, 302, 303, 307, 308].includes(res.status);
        if (!redirect || (method !== 'GET' && res.status !== 307 && res.status !== 308)) return res;
        const target = new URL(location, url);
        const shown = redactUrl(first);
        if (target.origin !== new URL(first).origin)
          throw new DicomError(
            'network',
            `${method} ${shown} failed: the PACS redirects to another origin (${redactUrl(target.origin)}); ` +
              `give that address as the DICOMweb root (credentials are never sent to another origin)`,
            { url: shown, status: res.status, location: redactUrl(target.href), timedOut: false },
          );
        if (hop >= MAX_REDIRECTS)
          throw new DicomError('network', `${method} ${shown} failed: more than ${MAX_REDIRECTS} redirects`, {
            url: shown,
            status: res.status,
            timedOut: false,
          });
        url = target.href;
      }
    },
  };
}

const MAX_REDIRECTS = 5;

/** One request and its whole answer (plus its Location header, for the redirect loop above). */
function exchange(
  req: HttpRequest,
  method: string,
  url: string,
  headers: Record<string, string | number>,
  deadline: number,
  timeoutMs: number,
  agents: Record<'http:' | 'https:', http.Agent>,
): Promise<{ response: HttpResponse; location?: string }> {
  const shown = redactUrl(url);
  const networkError = (why: string, cause: unknown, extraDetails: Record<string, unknown> = {}) =>
    new DicomError('network', `${method} ${shown} failed: ${why}`, {
      url: shown,
      cause: redactUrl(String(cause)),
      timedOut: false,
      ...extraDetails,
    });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (e) {
    return Promise.reject(networkError(`not a URL (${(e as Error).message})`, e));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return Promise.reject(networkError(`unsupported protocol ${parsed.protocol}`, parsed.protocol));
  if (req.signal?.aborted)
    return Promise.reject(networkError('aborted by the caller', 'aborted', { aborted: true }));
  const lib = parsed.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const fail = (e: unknown) => {
      finish(() => reject(e instanceof DicomError ? e : networkError(failure(e), e)));
      request.destroy();
    };
    const request = lib.request(
      parsed,
      { method, headers, agent: agents[parsed.protocol as 'http:'] },
      (res) => {
        const status = res.statusCode ?? 0;
        const contentType = String(res.headers['content-type'] ?? '');
        const location = res.headers.location;
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (req.maxBytes != null && n > req.maxBytes) {
            fail(tooLarge(req, shown, req.maxBytes, status));
            return;
          }
          chunks.push(c);
        });
        res.on('error', fail);
        res.on('aborted', () => fail(new Error('the connection closed before the answer was complete')));
        res.on('end', () => {
          if (!res.complete) return fail(new Error('the connection closed before the answer was complete'));
          // the chunks as received: a reader that needs one buffer joins them (`body`), a
          // series reader cuts frames out of them and never copies the whole answer
          const received = chunks.map((c) => new Uint8Array(c.buffer, c.byteOffset, c.length));
          const response = chunkedResponse(status, contentType, received);
          finish(() => resolve({ response, ...(location ? { location } : {}) }));
        });
      },
    );
    const timer = setTimeout(
      () => {
        finish(() =>
          reject(
            new DicomError(
              'network',
              `${method} ${shown} failed: timed out after ${Math.round(timeoutMs / 1000)} s without a complete answer`,
              { url: shown, cause: 'timeout', timedOut: true },
            ),
          ),
        );
        request.destroy();
      },
      Math.max(0, deadline - Date.now()),
    );
    const onAbort = () => fail(networkError('aborted by the caller', 'aborted', { aborted: true }));
    req.signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', fail);
    request.end(req.body ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.length) : undefined);
  });
}
