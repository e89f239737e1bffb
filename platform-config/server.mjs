#!/usr/bin/env node
/**
 * Development / demo server for the geometry-ldm viewer (Node http, no framework).
 *
 *   /                          the prebuilt OHIF viewer (@ohif/app dist, untouched); SPA fallback
 *                              to index.html, into which the import map is injected on the fly
 *   /app-config.js             platform-config/app-config.js (replaces the viewer's own)
 *   /geometry-ldm/bundles/     the extension, mode and worker ES-module bundles (scripts/build-extension.mjs)
 *   /geometry-ldm/model/       the model directory given as `modelDir` (model.json + ONNX files)
 *   /geometry-ldm/ort/         onnxruntime-web's dist (wasm + mjs, for the inference worker)
 *   /dicom-web/{studies,series,instances}...   reverse proxy to Orthanc's DICOMweb (nothing else of
 *                              Orthanc is reachable); the Authorization header is added here (never in
 *                              the browser); the client's Host is kept and `Forwarded: host=...;proto=...`
 *                              set, so Orthanc builds BulkDataURIs on the viewer's own origin
 *
 * Every response carries Cross-Origin-Opener-Policy: same-origin and
 * Cross-Origin-Embedder-Policy: require-corp (cross-origin isolation: wasm threads,
 * SharedArrayBuffer for Cornerstone volumes) plus Cross-Origin-Resource-Policy: same-origin.
 *
 * Used as a module by scripts/start.mjs (`startViewerServer`), or directly (the tests do):
 *   ORTHANC_URL=http://127.0.0.1:8042 ORTHANC_AUTHORIZATION='Basic ...' [PORT=8080 HOST=127.0.0.1
 *   GEOMETRY_LDM_MODEL_DIR=... GEOMETRY_LDM_VIEWER_DIR=... GEOMETRY_LDM_BUNDLES_DIR=...
 *   GEOMETRY_LDM_APP_CONFIG=...] node platform-config/server.mjs      (prints "viewer: <url>/")
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..');
export const PLATFORM_DIR = here;
export const DEFAULT_BUNDLES_DIR = path.join(here, '.cache', 'bundles');
export const DEFAULT_MODEL_DIR = path.join(REPO_ROOT, 'models', 'geometry-ldm-demo');
export const DEFAULT_ORT_DIR = path.join(REPO_ROOT, 'node_modules', 'onnxruntime-web', 'dist');
export const APP_CONFIG = path.join(here, 'app-config.js');

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.xml': 'application/xml',
  '.txt': 'text/plain; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

/** Request headers never forwarded to Orthanc (hop-by-hop, browser credentials, spoofable forwarding). */
const DROP_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'host',
  'authorization',
  'cookie',
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-for',
  'accept-encoding',
]);
/** The DICOMweb resources the viewer needs (QIDO, WADO-RS, STOW-RS). */
const DICOMWEB_PATH = /^\/dicom-web\/(studies|series|instances)(\/|$)/;
const PROXY_METHODS = new Set(['GET', 'HEAD', 'POST']);

const DROP_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'www-authenticate',
  'set-cookie',
]);

/**
 * The import map put into index.html: module names used in app-config.js (and in
 * the mode's extension dependencies) -> bundle URLs. build-extension.mjs writes it
 * next to the bundles.
 */
export function readImportMap(bundlesDir = DEFAULT_BUNDLES_DIR) {
  const file = path.join(bundlesDir, 'importmap.json');
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run node platform-config/scripts/build-extension.mjs first`);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** index.html with the import map as the first script of <head> (it must precede every module script). */
export function injectImportMap(html, importMap) {
  const tag = `<script type="importmap">${JSON.stringify(importMap)}</script>`;
  const at = html.indexOf('<head>');
  if (at < 0) throw new Error('index.html has no <head>');
  return html.slice(0, at + 6) + tag + html.slice(at + 6);
}

/** Resolves a URL path below `root`, or null when it escapes it. */
function safeJoin(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const full = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  if (full !== root && !full.startsWith(root + path.sep)) return null;
  return full;
}

function statFile(file) {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? st : null;
  } catch {
    return null;
  }
}

/**
 * @param {{
 *   viewerDir: string,                 // OHIF dist
 *   orthanc: { url: string, authorization: string }, // upstream PACS (loopback)
 *   bundlesDir?: string, modelDir?: string, ortDir?: string, appConfig?: string,
 *   host?: string, port?: number, log?: (line: string) => void,
 * }} options
 * @returns {Promise<{ url: string, port: number, server: http.Server, close(): Promise<void> }>}
 */
export async function startViewerServer(options) {
  const viewerDir = path.resolve(options.viewerDir);
  const bundlesDir = path.resolve(options.bundlesDir ?? DEFAULT_BUNDLES_DIR);
  const modelDir = path.resolve(options.modelDir ?? process.env.GEOMETRY_LDM_MODEL_DIR ?? DEFAULT_MODEL_DIR);
  const ortDir = path.resolve(options.ortDir ?? DEFAULT_ORT_DIR);
  const appConfig = path.resolve(options.appConfig ?? APP_CONFIG);
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  const upstream = new URL(options.orthanc.url);
  const authorization = options.orthanc.authorization;

  const indexHtml = fs.readFileSync(path.join(viewerDir, 'index.html'), 'utf8');
  // Re-read on every index request: a rebuilt bundle changes the map without a restart.
  const renderIndex = () => injectImportMap(indexHtml, readImportMap(bundlesDir));
  readImportMap(bundlesDir); // fail early when the bundles were not built

  /** Static mounts (all revalidated by ETag: bundle names are stable, model files may be replaced). */
  const mounts = [
    { prefix: '/geometry-ldm/bundles/', dir: bundlesDir },
    { prefix: '/geometry-ldm/model/', dir: modelDir },
    { prefix: '/geometry-ldm/ort/', dir: ortDir },
  ];

  function send(res, status, headers, body) {
    res.writeHead(status, { ...ISOLATION_HEADERS, ...headers });
    res.end(body);
  }

  function sendFile(req, res, file, st, cacheControl) {
    const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const headers = { 'Content-Type': type, 'Cache-Control': cacheControl, ETag: etag };
    if (req.headers['if-none-match'] === etag) return send(res, 304, headers);
    res.writeHead(200, { ...ISOLATION_HEADERS, ...headers, 'Content-Length': st.size });
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  function proxy(req, res) {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (!DROP_REQUEST_HEADERS.has(k.toLowerCase()) && v !== undefined) headers[k] = v;
    }
    const clientHost = req.headers.host ?? `${host}:${port}`;
    headers['authorization'] = authorization;
    // Orthanc's DICOMweb plugin builds BulkDataURI / RetrieveURL from these (X-Forwarded-Host is
    // ignored; 1.7 does not unquote a quoted Forwarded host, so it is sent as a bare value).
    headers['host'] = clientHost;
    headers['forwarded'] = `host=${clientHost};proto=http`;
    const upstreamReq = http.request(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
      },
      (upRes) => {
        const out = { ...ISOLATION_HEADERS };
        for (const [k, v] of Object.entries(upRes.headers)) {
          if (!DROP_RESPONSE_HEADERS.has(k.toLowerCase()) && v !== undefined) out[k] = v;
        }
        // A 401 from Orthanc means the server-side credentials are wrong: never let the browser prompt.
        res.writeHead(upRes.statusCode === 401 ? 502 : (upRes.statusCode ?? 502), out);
        upRes.pipe(res);
      },
    );
    upstreamReq.on('error', (e) => {
      log(`proxy error ${req.method} ${req.url}: ${e.message}`);
      if (!res.headersSent)
        send(res, 502, { 'Content-Type': 'text/plain' }, `PACS unreachable: ${e.message}\n`);
      else res.destroy();
    });
    // A client that goes away (cancelled series load) stops the upstream transfer too.
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    req.pipe(upstreamReq);
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const p = url.pathname;
    if (p === '/dicom-web' || p.startsWith('/dicom-web/')) {
      // Only the DICOMweb resources the viewer uses; e.g. /dicom-web/servers (Orthanc's outbound
      // DICOMweb client) is not reachable with the injected credentials.
      if (!DICOMWEB_PATH.test(p)) return send(res, 404, { 'Content-Type': 'text/plain' }, 'not found\n');
      if (!PROXY_METHODS.has(req.method ?? '')) {
        return send(
          res,
          405,
          { 'Content-Type': 'text/plain', Allow: 'GET, HEAD, POST' },
          'method not allowed\n',
        );
      }
      return proxy(req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }, 'method not allowed\n');
    }
    try {
      if (p === '/app-config.js') {
        // Never fall back to the viewer's own app-config.js (it points at a public demo PACS).
        const st = statFile(appConfig);
        if (!st) throw new Error(`${appConfig} is missing`);
        return sendFile(req, res, appConfig, st, 'no-cache');
      }
      for (const m of mounts) {
        if (p.startsWith(m.prefix)) {
          const file = safeJoin(m.dir, p.slice(m.prefix.length));
          const st = file ? statFile(file) : null;
          if (!file || !st) return send(res, 404, { 'Content-Type': 'text/plain' }, 'not found\n');
          return sendFile(req, res, file, st, 'no-cache');
        }
      }
      if (p !== '/' && p !== '/index.html') {
        const file = safeJoin(viewerDir, p.slice(1));
        const st = file ? statFile(file) : null;
        if (file && st) return sendFile(req, res, file, st, 'no-cache');
        // A missing asset (has an extension) is a 404; anything else is a client-side route.
        if (path.posix.extname(p) && !p.endsWith('.html')) {
          return send(res, 404, { 'Content-Type': 'text/plain' }, 'not found\n');
        }
      }
      const body = renderIndex();
      return send(
        res,
        200,
        { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' },
        req.method === 'HEAD' ? undefined : body,
      );
    } catch (e) {
      log(`error ${req.method} ${req.url}: ${e && e.stack ? e.stack : e}`);
      if (!res.headersSent) send(res, 500, { 'Content-Type': 'text/plain' }, 'internal error\n');
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 5000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        for (const s of sockets) s.destroy();
      }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = process.env;
  const orthancUrl = env.ORTHANC_URL;
  const authorization = env.ORTHANC_AUTHORIZATION;
  if (!orthancUrl || !authorization) {
    console.error('set ORTHANC_URL and ORTHANC_AUTHORIZATION (or use `npm start`, which starts Orthanc)');
    process.exit(2);
  }
  try {
    const viewerDir =
      env.GEOMETRY_LDM_VIEWER_DIR ?? (await import('./scripts/fetch-viewer.mjs')).fetchViewer();
    const srv = await startViewerServer({
      viewerDir,
      orthanc: { url: orthancUrl, authorization },
      bundlesDir: env.GEOMETRY_LDM_BUNDLES_DIR,
      modelDir: env.GEOMETRY_LDM_MODEL_DIR,
      appConfig: env.GEOMETRY_LDM_APP_CONFIG,
      port: Number(env.PORT ?? 8080),
      host: env.HOST ?? '127.0.0.1',
      log: (l) => console.error(l),
    });
    console.log(`viewer: ${srv.url}/`);
    const stop = () => srv.close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
