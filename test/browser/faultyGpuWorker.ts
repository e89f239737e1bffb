/**
 * Test worker entry: the real engine host and onnxruntime-web, except that the
 * 8th WebGPU model call first destroys the engine's GPUDevice (a real device
 * loss): two tiny generate jobs (DDIM 2 steps: 2 UNet calls + 1 decoder call
 * each) run normally, the third loses the device at its second UNet call. The
 * engine must reject that call as 'session-failed' (not hang), report a
 * fallback, and finish the job on wasm. Until then the worker is the real engine.
 */
import * as ort from 'onnxruntime-web/webgpu';
import type { OrtWebModule } from '../../extensions/geometry-ldm/src/inference/webRuntime';
import { startEngineHost, type MessageScopeLike } from '../../extensions/geometry-ldm/src/worker/engineHost';

const LOSE_DEVICE_AT_CALL = 8;
let gpuCalls = 0;

type Session = Awaited<ReturnType<typeof ort.InferenceSession.create>>;

const faulty = {
  env: ort.env,
  Tensor: ort.Tensor,
  InferenceSession: {
    async create(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) {
      const session = await ort.InferenceSession.create(bytes, options);
      // the engine passes the GPUDevice it created in the WebGPU EP options
      const ep = options.executionProviders?.[0] as { name?: string; device?: { destroy(): void } } | string;
      if (typeof ep !== 'object' || ep.name !== 'webgpu' || !ep.device) return session;
      const device = ep.device;
      return new Proxy(session, {
        get(target, key) {
          if (key === 'run') {
            return async (feeds: Parameters<Session['run']>[0]) => {
              if (++gpuCalls === LOSE_DEVICE_AT_CALL) device.destroy();
              return target.run(feeds);
            };
          }
          const value = (target as unknown as Record<string | symbol, unknown>)[key];
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  },
};

startEngineHost(self as unknown as MessageScopeLike, { ort: faulty as unknown as OrtWebModule });
