import { createOrtRuntime, type OrtModule } from './ortRuntime';

/** An onnxruntime whose session fails every run with `message`. */
function failingOrt(message: string): OrtModule {
  return {
    InferenceSession: {
      create: async () => ({
        inputNames: ['x'],
        outputNames: ['y'],
        run: async () => {
          throw new Error(message);
        },
      }),
    },
    Tensor: class {
      readonly type = 'float32';
      constructor(
        _t: string,
        readonly data: Float32Array,
        readonly dims: readonly number[],
      ) {}
    },
  } as unknown as OrtModule;
}

async function runError(message: string) {
  const rt = createOrtRuntime(failingOrt(message), {
    library: 'onnxruntime-node',
    executionProvider: 'cpu',
    threads: 1,
  });
  const s = await rt.createSession('decoder', new Uint8Array(1));
  return s.run({ x: { data: new Float32Array(1), dims: [1] } }).catch((e: unknown) => e);
}

test('an allocation failure says "out of memory", whatever the runtime called it', async () => {
  const e = (await runError('std::bad_alloc')) as { code: string; message: string };
  expect(e.code).toBe('out-of-memory');
  expect(e.message).toMatch(/^out of memory: model "decoder" failed on cpu: std::bad_alloc$/);
});

test('any other failure is a run failure, not memory', async () => {
  const e = (await runError('Got invalid dimensions for input')) as { code: string; message: string };
  expect(e.code).toBe('run-failed');
  expect(e.message).not.toMatch(/out of memory/);
});

test('onnxruntime-node sessions do not spin idle threads; wasm sessions keep the default; callers override', async () => {
  const seen: Record<string, unknown>[] = [];
  const ort = failingOrt('unused');
  const create = ort.InferenceSession.create;
  (ort.InferenceSession as { create: unknown }).create = async (
    b: Uint8Array,
    o: Record<string, unknown>,
  ) => {
    seen.push(o);
    return create(b, o as never);
  };
  const session = (
    library: 'onnxruntime-node' | 'onnxruntime-web',
    sessionOptions?: Record<string, unknown>,
  ) =>
    createOrtRuntime(ort, { library, executionProvider: 'cpu', threads: 2, sessionOptions }).createSession(
      'unet',
      new Uint8Array(1),
    );
  await session('onnxruntime-node');
  await session('onnxruntime-web');
  await session('onnxruntime-node', { extra: { session: { intra_op: { allow_spinning: '1' } } } });
  expect(seen[0].extra).toEqual({ session: { intra_op: { allow_spinning: '0' } } });
  expect(seen[1].extra).toBeUndefined();
  expect(seen[2].extra).toEqual({ session: { intra_op: { allow_spinning: '1' } } });
  expect(seen.every((o) => o.intraOpNumThreads === 2)).toBe(true);
});
