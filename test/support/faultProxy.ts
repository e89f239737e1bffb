/**
 * A small fault-injecting HTTP proxy in front of a real PACS. For each request
 * a rule decides: pass it through, answer with a status without forwarding,
 * forward and then answer an error anyway (the PACS did the work), drop the
 * connection part-way through the request body (the PACS sees nothing), or
 * forward, let the PACS answer, and drop the connection instead of relaying
 * that answer (the PACS did the work; the client never hears of it).
 * Every request is logged with its body as the proxy received it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultAction =
  | { kind: 'pass' }
  | { kind: 'status'; status: number; body?: string }
  | { kind: 'forward-then-status'; status: number }
  | { kind: 'drop-mid-request' }
  | { kind: 'forward-then-drop' };

export interface RequestInfo {
  readonly method: string;
  readonly url: string;
  /** 0-based count of requests with this method seen so far. */
  readonly index: number;
  readonly contentType?: string;
  readonly accept?: string;
  readonly authorization?: string;
  /** The request body as received (set once it has arrived; partial for drop-mid-request). */
  body?: Buffer;
  /** Status the PACS answered, when the request was forwarded (also for forward-then-*). */
  upstreamStatus?: number;
}

export interface FaultProxy {
  readonly url: string;
  /** Requests seen: method and path. */
  readonly log: RequestInfo[];
  setRule(rule: (r: RequestInfo) => FaultAction): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  let rule: (r: RequestInfo) => FaultAction = () => ({ kind: 'pass' });
  const counts: Record<string, number> = {};
  const log: RequestInfo[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const forward = (
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: t.host, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      const out = http.request(
        { hostname: t.hostname, port: t.port, path: req.url, method: req.method, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const info: RequestInfo = {
      method,
      url: req.url ?? '',
      index: counts[method] ?? 0,
      ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
      ...(req.headers.accept ? { accept: req.headers.accept } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    counts[method] = info.index + 1;
    log.push(info);
    const action = rule(info);
    if (action.kind === 'drop-mid-request') {
      req.on('data', (c: Buffer) => {
        info.body = Buffer.concat([info.body ?? Buffer.alloc(0), c]);
        req.socket.destroy();
      });
      req.on('end', () => req.socket.destroy());
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      info.body = body;
      if (action.kind === 'status') {
        res.writeHead(action.status, { 'content-type': 'text/plain' });
        res.end(action.body ?? `injected ${action.status}`);
        return;
      }
      try {
        const r = await forward(req, body);
        info.upstreamStatus = r.status;
        if (action.kind === 'forward-then-drop') {
          req.socket.destroy();
          return;
        }
        if (action.kind === 'forward-then-status') {
          res.writeHead(action.status, { 'content-type': 'text/plain' });
          res.end(`injected ${action.status} after forwarding`);
          return;
        }
        const headers = { ...r.headers };
        delete headers['transfer-encoding'];
        delete headers['connection'];
        delete headers['keep-alive'];
        headers['content-length'] = String(r.body.length);
        res.writeHead(r.status, headers);
        res.end(r.body);
      } catch (e) {
        res.writeHead(502);
        res.end(String(e));
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    setRule(r) {
      rule = r;
      for (const k of Object.keys(counts)) delete counts[k];
      log.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
