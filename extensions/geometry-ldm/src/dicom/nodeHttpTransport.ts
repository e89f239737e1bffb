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
  joinUrl,
  queryString,
  redactUrl,
  tooLarge,
  type DicomwebService,
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
  const roots: Record<DicomwebService, string> = {
    qido: options.qidoRoot ?? options.root,
    wado: options.wadoRoot ?? options.root,
    stow: options.stowRoot ?? options.root,
  };
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
      const extra = typeof options.headers === 'function' ? await options.headers() : (options.headers ?? {});
      const headers: Record<string, string | number> = { ...extra };
      if (req.accept) headers['Accept'] = req.accept;
      if (req.contentType) headers['Content-Type'] = req.contentType;
      if (req.body) headers['Content-Length'] = req.body.length;
      const url = joinUrl(roots[req.service], req.path) + queryString(req.query);
      const shown = redactUrl(url);
      const method = req.method ?? 'GET';
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
        throw networkError(`not a URL (${(e as Error).message})`, e);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
        throw networkError(`unsupported protocol ${parsed.protocol}`, parsed.protocol);
      if (req.signal?.aborted) throw networkError('aborted by the caller', 'aborted', { aborted: true });
      const lib = parsed.protocol === 'https:' ? https : http;
      return new Promise<HttpResponse>((resolve, reject) => {
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
              if (!res.complete)
                return fail(new Error('the connection closed before the answer was complete'));
              // one buffer, allocated once at its final size (no zero fill): the concatenation is the only copy
              const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, n);
              finish(() =>
                resolve({
                  status,
                  contentType,
                  body: new Uint8Array(all.buffer, all.byteOffset, all.length),
                }),
              );
            });
          },
        );
        const timer = setTimeout(() => {
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
        }, timeoutMs);
        const onAbort = () => fail(networkError('aborted by the caller', 'aborted', { aborted: true }));
        req.signal?.addEventListener('abort', onAbort, { once: true });
        request.on('error', fail);
        request.end(
          req.body ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.length) : undefined,
        );
      });
    },
  };
}
