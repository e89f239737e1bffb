/**
 * A raw HTTP client for the server tests: unlike fetch it can set Host and
 * send any method, and it never follows redirects or adds headers of its own.
 */
import * as http from 'node:http';
import * as vm from 'node:vm';

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: () => body.toString('utf8'),
          json: <T>() => JSON.parse(body.toString('utf8')) as T,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export const ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

export function expectIsolated(res: RawResponse): void {
  for (const [k, v] of Object.entries(ISOLATION)) {
    if (res.headers[k] !== v) throw new Error(`${k}: expected ${v}, got ${String(res.headers[k])}`);
  }
}

/** Runs app-config.js as the browser would, for a page at `origin`; returns window.config. */
export function evaluateAppConfig(source: string, origin: string): Record<string, unknown> {
  const window: { location: { origin: string }; config?: Record<string, unknown> } = { location: { origin } };
  vm.runInNewContext(source, { window });
  if (!window.config) throw new Error('app-config.js did not set window.config');
  return window.config;
}

/** The import map in an HTML page (the first <script type="importmap">). */
export function importMapIn(html: string): { imports: Record<string, string> } | null {
  const m = /<script type="importmap">([^<]*)<\/script>/.exec(html);
  return m ? (JSON.parse(m[1]) as { imports: Record<string, string> }) : null;
}

/** BulkDataURI values of a DICOM JSON metadata answer. */
export function bulkDataUris(metadata: Record<string, { BulkDataURI?: string }>[]): string[] {
  return metadata.flatMap((ds) =>
    Object.values(ds)
      .map((el) => el.BulkDataURI)
      .filter((u): u is string => typeof u === 'string'),
  );
}
