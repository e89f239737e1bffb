/**
 * Parallel frame decoding: compressed frames (JPEG 2000, JPEG-LS, JPEG, RLE) are decoded by a
 * pool of workers, one per core, so that a series decodes at the machine's rate instead of one
 * core's. The pool is runtime-neutral: the caller injects how a worker is spawned (Web Worker in
 * the browser, worker_threads in Node: nodeDecodePool.ts) and the worker side runs
 * `serveFrameDecodes` with the same codecs a single-threaded reader would use. The result is a
 * codec map (`pooledCodecs`), so readSeries and decodeFrame do not change: same samples, same
 * checks, same error codes and messages whichever path decoded a frame.
 */
import {
  TRANSFER_SYNTAX,
  type FrameCodec,
  type FrameCodecs,
  type FrameInfo,
  type StoredFrame,
} from './decodeFrame';
import { DicomError, type DicomErrorCode } from './errors';

/** Main thread -> worker. `encoded` owns its buffer (it is transferred). */
export interface DecodeRequest {
  readonly id: number;
  readonly transferSyntaxUid: string;
  readonly encoded: Uint8Array;
  readonly info: FrameInfo;
}

/** Worker -> main thread. An error keeps its DicomError code and details when it had them. */
export type DecodeReply =
  | { readonly id: number; readonly ok: true; readonly frame: StoredFrame }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { message: string; code?: DicomErrorCode; details?: Record<string, unknown> };
    };

/**
 * The pool itself failed (a worker could not start or died), not the frame: the caller may decode
 * in place instead (pooledCodecs does).
 */
export class DecodeWorkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeWorkerError';
  }
}

/** Workers that die in a row, with no reply between, before the pool gives up on workers. */
export const MAX_WORKER_FAILURES = 3;

/** One spawned worker as the pool sees it. */
export interface DecodeWorkerPort {
  post(request: DecodeRequest, transfer: ArrayBuffer[]): void;
  /** Replies, and the worker's death (a crash or a failed start): every request in flight on it fails. */
  listen(onReply: (reply: DecodeReply) => void, onFailure: (error: Error) => void): void;
  terminate(): void;
}

export interface DecodePool {
  /** Workers the pool may run at once. */
  readonly size: number;
  decode(transferSyntaxUid: string, encoded: Uint8Array, info: FrameInfo): Promise<StoredFrame>;
  /** Stops every worker; requests in flight fail. */
  close(): void;
}

const FRAME_TYPES = { Uint8Array, Int8Array, Uint16Array, Int16Array } as const;

/**
 * The frame as a typed array of this realm: a reply cloned by a host that is not this script's
 * realm (a jest VM context around worker_threads) fails `instanceof` checks otherwise.
 */
function ownRealm(frame: StoredFrame): StoredFrame {
  const kind = Object.prototype.toString.call(frame).slice(8, -1) as keyof typeof FRAME_TYPES;
  const C = FRAME_TYPES[kind];
  if (!C) throw new Error(`the decode worker sent ${kind}, not a frame`);
  return frame instanceof C ? frame : new C(frame.buffer as ArrayBuffer, frame.byteOffset, frame.length);
}

/** Syntaxes decoded in place: copying the frame to a worker costs more than reading it. */
const IN_PLACE: ReadonlySet<string> = new Set([
  TRANSFER_SYNTAX.implicitLittle,
  TRANSFER_SYNTAX.explicitLittle,
  TRANSFER_SYNTAX.explicitBig,
]);

interface Slot {
  port: DecodeWorkerPort;
  readonly pending: Map<number, { resolve: (f: StoredFrame) => void; reject: (e: unknown) => void }>;
}

/**
 * A pool of at most `size` workers, spawned on demand (a series of native frames spawns none);
 * each request goes to the worker with the fewest in flight. A worker that dies fails its own
 * requests only (DecodeWorkerError) and is replaced by the next request that needs one; after
 * MAX_WORKER_FAILURES deaths in a row every request fails at once with DecodeWorkerError.
 */
export function createDecodePool(spawn: () => DecodeWorkerPort, size: number): DecodePool {
  if (!(Number.isInteger(size) && size >= 1))
    throw new RangeError(`decode pool size must be a whole number >= 1, got ${size}`);
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;
  let failuresInARow = 0;
  let broken: string | null = null;
  const start = (): Slot => {
    const slot: Slot = { port: spawn(), pending: new Map() };
    slot.port.listen(
      (reply) => {
        const p = slot.pending.get(reply.id);
        if (!p) return;
        slot.pending.delete(reply.id);
        failuresInARow = 0;
        if (reply.ok) {
          try {
            p.resolve(ownRealm(reply.frame));
          } catch (e) {
            p.reject(e);
          }
        } else
          p.reject(
            reply.error.code
              ? new DicomError(reply.error.code, reply.error.message, reply.error.details ?? {})
              : new Error(reply.error.message),
          );
      },
      (error) => {
        const i = slots.indexOf(slot);
        if (i < 0) return; // already handled (an 'error' is followed by an 'exit')
        slots.splice(i, 1);
        if (!closed && ++failuresInARow >= MAX_WORKER_FAILURES) broken = error.message;
        for (const p of slot.pending.values())
          p.reject(new DecodeWorkerError(`the decode worker stopped: ${error.message}`));
        slot.pending.clear();
        try {
          slot.port.terminate();
        } catch {
          // already gone
        }
      },
    );
    slots.push(slot);
    return slot;
  };
  const pick = (): Slot => {
    let best: Slot | null = null;
    for (const s of slots) if (!best || s.pending.size < best.pending.size) best = s;
    if (best && (best.pending.size === 0 || slots.length >= size)) return best;
    return start();
  };
  return {
    size,
    decode(transferSyntaxUid, encoded, info) {
      if (closed) return Promise.reject(new DecodeWorkerError('the decode pool is closed'));
      if (broken) return Promise.reject(new DecodeWorkerError(`the decode workers keep failing: ${broken}`));
      const slot = pick();
      const id = nextId++;
      // a copy is sent (transferred): the caller's bytes stay usable, e.g. to decode in place after a
      // worker failed
      const own = encoded.slice();
      return new Promise<StoredFrame>((resolve, reject) => {
        slot.pending.set(id, { resolve, reject });
        try {
          slot.port.post({ id, transferSyntaxUid, encoded: own, info }, [own.buffer as ArrayBuffer]);
        } catch (e) {
          slot.pending.delete(id);
          reject(e);
        }
      });
    },
    close() {
      closed = true;
      for (const s of slots.splice(0)) {
        for (const p of s.pending.values()) p.reject(new DecodeWorkerError('the decode pool was closed'));
        s.pending.clear();
        s.port.terminate();
      }
    },
  };
}

/**
 * `codecs` with every compressed syntax decoded by `pool` (the workers hold the same codecs);
 * native syntaxes stay in place. Names are kept, so decodeFrame's messages do not change.
 */
export function pooledCodecs(pool: DecodePool, codecs: FrameCodecs): FrameCodecs {
  const out: Record<string, FrameCodec> = {};
  for (const [ts, codec] of Object.entries(codecs)) {
    out[ts] = IN_PLACE.has(ts)
      ? codec
      : {
          name: codec.name,
          // A pool that cannot run (no worker file, workers dying) must not fail a read that this
          // thread can do: the frame is decoded in place then, slower but the same.
          decode: (encoded, info) =>
            pool
              .decode(ts, encoded, info)
              .catch((e: unknown) =>
                e instanceof DecodeWorkerError ? codec.decode(encoded, info) : Promise.reject(e),
              ),
        };
  }
  return out;
}

/** The worker side: decodes one request with `codecs` and says how to send the reply. */
export async function serveFrameDecode(
  codecs: FrameCodecs,
  request: DecodeRequest,
): Promise<{ reply: DecodeReply; transfer: ArrayBuffer[] }> {
  const { id, transferSyntaxUid, encoded, info } = request;
  try {
    const codec = codecs[transferSyntaxUid];
    if (!codec) throw new Error(`the decode worker has no codec for ${transferSyntaxUid}`);
    const frame = await codec.decode(encoded, info);
    const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
    return { reply: { id, ok: true, frame }, transfer: whole ? [frame.buffer as ArrayBuffer] : [] };
  } catch (e) {
    const error =
      e instanceof DicomError
        ? { message: e.message, code: e.code, details: plain(e.details) }
        : { message: (e as Error)?.message ?? String(e) };
    return { reply: { id, ok: false, error }, transfer: [] };
  }
}

/** Details must survive structured cloning; anything that would not is dropped. */
function plain(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
