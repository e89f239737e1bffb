/**
 * A DicomwebTransport on dicomweb-client's DICOMwebClient (the library OHIF's
 * DICOMweb data source uses), for the browser: the same QIDO / WADO-RS / STOW-RS
 * calls readSeries, the writers and the STOW report make, issued through
 * `searchForStudies` / `searchForSeries` / `searchForInstances`,
 * `retrieve{Study,Series,Instance}Metadata`, the library's GET for whole instances of a series
 * as stored (see ClientCalls._httpGet), `retrieveInstanceFrames` (with
 * `mediaTypes: [{ mediaType: 'application/octet-stream', transferSyntaxUID: '*' }]`,
 * so frames come in their stored transfer syntax and are decoded on the client)
 * and `storeInstances`.
 *
 * Each call gets its own XMLHttpRequest (passed to dicomweb-client as
 * `request.instance`), so this transport sees what the library does not return:
 * the HTTP status, the Content-Type (with each frame part's transfer-syntax)
 * and the raw body (STOW-RS response bodies listing failed instances, error
 * bodies). Auth headers come from `headers` (e.g. OHIF's
 * `userAuthenticationService.getAuthorizationHeader()`), evaluated per request
 * and set through a request hook.
 *
 * In Node pass an XMLHttpRequest implementation (the `xhr2` package; it is
 * loaded by default when there is no global XMLHttpRequest). The fetch
 * transport (transport.ts) stays the default for Node and the CLI: it is
 * faster there (see BENCHMARKS.md).
 */
import { api } from 'dicomweb-client';
import { DicomError } from './errors';
import { headerParameter, parseMultipart } from './multipart';
import type {
  DicomwebService,
  DicomwebTransport,
  HeaderProvider,
  HttpRequest,
  HttpResponse,
} from './transport';

/** The part of dicomweb-client's DICOMwebClient this transport calls. */
interface ClientCalls {
  searchForStudies(o: object): Promise<unknown>;
  searchForSeries(o: object): Promise<unknown>;
  searchForInstances(o: object): Promise<unknown>;
  retrieveStudyMetadata(o: object): Promise<unknown>;
  retrieveSeriesMetadata(o: object): Promise<unknown>;
  retrieveInstanceMetadata(o: object): Promise<unknown>;
  retrieveInstanceFrames(o: object): Promise<unknown>;
  /**
   * The library's own GET (its request hooks, XHR and error handling) with a caller's headers.
   * Private in dicomweb-client 0.11, and used for one request only: retrieveSeries with
   * `mediaTypes` always throws there ("Media type application/ is not supported": it compares
   * the bare type "application/" with "application/dicom"), and without them it asks for
   * explicit VR little endian, which makes a PACS transcode compressed series.
   */
  _httpGet?(url: string, headers: Record<string, string>, request: object): Promise<unknown>;
  storeInstances(o: object): Promise<unknown>;
}

type XhrConstructor = new () => XMLHttpRequest;

export interface DicomwebClientTransportOptions {
  /** DICOMweb root used for all services unless overridden, e.g. https://host/dicom-web */
  readonly root: string;
  readonly qidoRoot?: string;
  readonly wadoRoot?: string;
  readonly stowRoot?: string;
  /** Headers on every request (e.g. Authorization), or a function giving them (called per request). */
  readonly headers?: HeaderProvider;
  /** XMLHttpRequest implementation. Default: the global one, else the `xhr2` package (Node). */
  readonly XMLHttpRequest?: XhrConstructor;
  /** Abort a request after this long (ms); default 120000. */
  readonly timeoutMs?: number;
}

const ANY_FRAME_MEDIA_TYPE = { mediaType: 'application/octet-stream', transferSyntaxUID: '*' };

/** dicomweb-client mediaTypes for an Accept header such as ACCEPT_ANY_FRAME. */
function frameMediaTypes(accept: string | undefined): { mediaType: string; transferSyntaxUID?: string }[] {
  if (!accept) return [ANY_FRAME_MEDIA_TYPE];
  return accept.split(',').map((one) => {
    const type = headerParameter(one, 'type') ?? 'application/octet-stream';
    const ts = headerParameter(one, 'transfer-syntax');
    return ts ? { mediaType: type, transferSyntaxUID: ts } : { mediaType: type };
  });
}

function queryParams(query: HttpRequest['query']): Record<string, string> | undefined {
  if (!query || Object.keys(query).length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) out[k] = Array.isArray(v) ? v.join(',') : String(v);
  return out;
}

async function defaultXhr(): Promise<XhrConstructor> {
  const g = (globalThis as { XMLHttpRequest?: XhrConstructor }).XMLHttpRequest;
  if (g) return g;
  const mod = (await import('xhr2')) as unknown as { default?: XhrConstructor } & XhrConstructor;
  return mod.default ?? mod;
}

/** Runs one dicomweb-client call for `req`, or returns null when there is none for it. */
function dispatch(
  client: ClientCalls,
  wadoRoot: string,
  req: HttpRequest,
  request: { instance: XMLHttpRequest },
): Promise<unknown> | null {
  const s = req.path
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map(decodeURIComponent);
  const qp = queryParams(req.query);
  const q = qp ? { queryParams: qp } : {};
  const method = req.method ?? 'GET';
  const is = (...pattern: (string | null)[]): boolean =>
    s.length === pattern.length && pattern.every((p, n) => p === null || p === s[n]);
  if (req.service === 'qido' && method === 'GET') {
    if (is('studies')) return client.searchForStudies({ ...q, request });
    if (is('series')) return client.searchForSeries({ ...q, request });
    if (is('studies', null, 'series'))
      return client.searchForSeries({ studyInstanceUID: s[1], ...q, request });
    if (is('instances')) return client.searchForInstances({ ...q, request });
    if (is('studies', null, 'instances'))
      return client.searchForInstances({ studyInstanceUID: s[1], ...q, request });
    if (is('studies', null, 'series', null, 'instances')) {
      return client.searchForInstances({ studyInstanceUID: s[1], seriesInstanceUID: s[3], ...q, request });
    }
  }
  if (req.service === 'wado' && method === 'GET' && !qp) {
    if (is('studies', null, 'metadata'))
      return client.retrieveStudyMetadata({ studyInstanceUID: s[1], request });
    if (is('studies', null, 'series', null, 'metadata')) {
      return client.retrieveSeriesMetadata({ studyInstanceUID: s[1], seriesInstanceUID: s[3], request });
    }
    if (is('studies', null, 'series', null, 'instances', null, 'metadata')) {
      return client.retrieveInstanceMetadata({
        studyInstanceUID: s[1],
        seriesInstanceUID: s[3],
        sopInstanceUID: s[5],
        request,
      });
    }
    // series-level retrieval of whole instances as stored (readSeries' default for whole series)
    if (is('studies', null, 'series', null) && client._httpGet) {
      const url = `${wadoRoot}/studies/${encodeURIComponent(s[1])}/series/${encodeURIComponent(s[3])}`;
      return client._httpGet(url, { Accept: req.accept ?? '' }, { ...request, responseType: 'arraybuffer' });
    }
    if (is('studies', null, 'series', null, 'instances', null, 'frames', null)) {
      return client.retrieveInstanceFrames({
        studyInstanceUID: s[1],
        seriesInstanceUID: s[3],
        sopInstanceUID: s[5],
        frameNumbers: s[7].split(',').map(Number),
        mediaTypes: frameMediaTypes(req.accept),
        request,
      });
    }
  }
  if (req.service === 'stow' && method === 'POST' && req.body && req.contentType) {
    if (is('studies') || is('studies', null)) {
      const datasets = parseMultipart(req.body, req.contentType).map((p) => p.body.slice().buffer);
      return client.storeInstances({
        datasets,
        ...(s.length === 2 ? { studyInstanceUID: s[1] } : {}),
        request,
      });
    }
  }
  return null;
}

/** What the XMLHttpRequest received, as an HttpResponse (JSON responses re-serialised). */
function responseOf(xhr: XMLHttpRequest): HttpResponse {
  const contentType = xhr.getResponseHeader('content-type') ?? '';
  const r: unknown = xhr.response;
  let body: Uint8Array;
  if (r instanceof ArrayBuffer) body = new Uint8Array(r);
  else if (ArrayBuffer.isView(r)) body = new Uint8Array(r.buffer, r.byteOffset, r.byteLength);
  else if (typeof r === 'string') body = new TextEncoder().encode(r);
  else if (r == null) body = new Uint8Array(0);
  else body = new TextEncoder().encode(JSON.stringify(r));
  return { status: xhr.status, contentType, body };
}

/**
 * The browser-side transport on dicomweb-client (see the module comment).
 * Resolves with any HTTP status; rejects with DicomError('network') when no
 * response came, and DicomError('invalid-input') for a request it has no
 * dicomweb-client call for.
 */
export function createDicomwebClientTransport(options: DicomwebClientTransportOptions): DicomwebTransport {
  const pending = new WeakMap<XMLHttpRequest, Readonly<Record<string, string>>>();
  // Headers go on in a request hook (after open(), before send()), per request.
  const hook = (xhr: XMLHttpRequest, _metadata: unknown): XMLHttpRequest => {
    for (const [k, v] of Object.entries(pending.get(xhr) ?? {})) xhr.setRequestHeader(k, v);
    return xhr;
  };
  const roots: Record<DicomwebService, string> = {
    qido: options.qidoRoot ?? options.root,
    wado: options.wadoRoot ?? options.root,
    stow: options.stowRoot ?? options.root,
  };
  const clients = {} as Record<DicomwebService, ClientCalls>;
  for (const service of ['qido', 'wado', 'stow'] as const) {
    clients[service] = new api.DICOMwebClient({
      url: roots[service].replace(/\/+$/, ''),
      requestHooks: [hook],
      verbose: false,
      singlepart: false,
    }) as unknown as ClientCalls;
  }
  const timeoutMs = options.timeoutMs ?? 120000;
  let Xhr: XhrConstructor | undefined = options.XMLHttpRequest;
  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      Xhr ??= await defaultXhr();
      const headers =
        typeof options.headers === 'function' ? await options.headers() : (options.headers ?? {});
      const xhr = new Xhr();
      xhr.timeout = timeoutMs;
      pending.set(xhr, headers);
      const what = `${req.method ?? 'GET'} ${roots[req.service]}/${req.path}`;
      let call: Promise<unknown> | null;
      try {
        call = dispatch(clients[req.service], roots.wado.replace(/\/+$/, ''), req, { instance: xhr });
      } catch (e) {
        throw new DicomError('invalid-input', `${what}: ${(e as Error).message ?? e}`);
      }
      if (!call) {
        throw new DicomError('invalid-input', `${what}: no dicomweb-client call for this request`, {
          service: req.service,
          path: req.path,
        });
      }
      // dicomweb-client rejects on any non-2xx status: the XMLHttpRequest holds the truth either way.
      const failure = await call.then(
        () => null,
        (e: unknown) => e,
      );
      if (xhr.readyState !== 4 || xhr.status === 0) {
        throw new DicomError('network', `${what} failed: no response`, {
          cause: String((failure as Error | null)?.message ?? failure ?? 'no response'),
        });
      }
      return responseOf(xhr);
    },
  };
}
