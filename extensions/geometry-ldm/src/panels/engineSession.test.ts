/**
 * The backend choice: what each choice asks the worker for, and that the user's choice is
 * remembered per origin (the storage is the page's localStorage) across reloads and tabs.
 */
import type { WorkerLike } from '../worker/engineClient';
import type { InitMessage, MainToWorker, WorkerToMain } from '../worker/protocol';
import { testManifest } from './__fixtures__/manifest';
import { BACKEND_CHOICE_KEY, EngineSession } from './engineSession';

const manifest = testManifest();

/** A worker that records init messages and answers `ready` on wasm. */
function recordingWorker(inits: InitMessage[]): () => WorkerLike {
  return () => {
    let listener: ((e: { data: WorkerToMain }) => void) | null = null;
    return {
      postMessage(message: MainToWorker) {
        if (message.type !== 'init') return;
        inits.push(message);
        const ready: WorkerToMain = {
          type: 'ready',
          backend: { library: 'onnxruntime-web', executionProvider: 'wasm', threads: 2 },
          model: { name: manifest.name, version: manifest.version, intendedUse: '', licence: '' },
          files: [],
          tiling: { maxImageVoxelsPerCall: 2 ** 20 },
        };
        setTimeout(() => listener?.({ data: ready }));
      },
      addEventListener(type: string, l: unknown) {
        if (type === 'message') listener = l as (e: { data: WorkerToMain }) => void;
      },
      terminate() {},
    } as WorkerLike;
  };
}

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
}

const fetchManifest = (async () => new Response(JSON.stringify(manifest))) as unknown as typeof fetch;

function session(
  storage: ReturnType<typeof memoryStorage> | null,
  inits: InitMessage[],
  preferWebGPU?: boolean,
) {
  return new EngineSession({
    manifestUrl: 'http://x/model.json',
    wasmPaths: 'http://x/ort/',
    createWorker: recordingWorker(inits),
    fetch: fetchManifest,
    storage,
    ...(preferWebGPU === undefined ? {} : { preferWebGPU }),
  });
}

test("default 'auto': WebGPU asked for, a software adapter not allowed", async () => {
  const inits: InitMessage[] = [];
  const s = session(memoryStorage(), inits);
  await s.ensureReady();
  expect(s.getSnapshot().backendChoice).toBe('auto');
  expect(inits.map((i) => [i.preferWebGPU, i.allowSoftwareWebGPU])).toEqual([[true, false]]);
  s.dispose();
});

test("the configured preferWebGPU: false means 'wasm' until the user chooses", async () => {
  const inits: InitMessage[] = [];
  const s = session(memoryStorage(), inits, false);
  await s.ensureReady();
  expect(inits[0].preferWebGPU).toBe(false);
  s.dispose();
});

test('a choice restarts the worker with it and is remembered for the next page (reload, new tab)', async () => {
  const storage = memoryStorage();
  const inits: InitMessage[] = [];
  const s = session(storage, inits);
  await s.ensureReady();
  await s.setBackendChoice('webgpu');
  expect(inits.map((i) => [i.preferWebGPU, i.allowSoftwareWebGPU])).toEqual([
    [true, false],
    [true, true],
  ]);
  expect(storage.m.get(BACKEND_CHOICE_KEY)).toBe('webgpu');
  s.dispose();

  const again: InitMessage[] = [];
  const next = session(storage, again, true);
  await next.ensureReady();
  expect(next.getSnapshot().backendChoice).toBe('webgpu');
  expect(again[0].allowSoftwareWebGPU).toBe(true);
  await next.setBackendChoice('wasm');
  expect(again[1].preferWebGPU).toBe(false);
  next.dispose();
  expect(session(storage, [], true).getSnapshot().backendChoice).toBe('wasm');
});

test('blocked or foreign storage values fall back to the configured default', () => {
  const storage = memoryStorage();
  storage.setItem(BACKEND_CHOICE_KEY, 'quantum');
  expect(session(storage, []).getSnapshot().backendChoice).toBe('auto');
  const throwing = {
    getItem: () => {
      throw new Error('SecurityError');
    },
    setItem: () => undefined,
    m: new Map(),
  };
  expect(session(throwing, [], false).getSnapshot().backendChoice).toBe('wasm');
});
