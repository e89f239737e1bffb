/**
 * Runtime configuration of the extension: `window.config.geometryLdm` in the
 * viewer's app-config.js, or the configuration of an `[extension, config]`
 * pair (which wins), handed over in `preRegistration`. All URLs should be
 * same-origin: the page is cross-origin isolated (COEP) and patient data must
 * not leave the viewer's origin.
 */
export interface GeometryLdmConfig {
  /** Model directory URL (ends with '/'); the manifest is `<modelUrl>model.json`. */
  readonly modelUrl: string;
  /** onnxruntime-web's dist URL (ends with '/'), for the inference worker. */
  readonly ortWasmUrl: string;
  /** The inference worker's ES module (default: next to the extension bundle). */
  readonly workerUrl: string;
  /** Try WebGPU first (falls back to wasm when the adapter or the model cannot run on it). */
  readonly preferWebGPU: boolean;
  /**
   * Where the frame codecs' wasm files (openjpegwasm_decode.wasm, charlswasm_decode.wasm) are
   * served (ends with '/'); default: next to the inference worker (the build copies them there).
   */
  readonly codecWasmUrl?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG: Omit<GeometryLdmConfig, 'workerUrl'> = {
  modelUrl: '/geometry-ldm/models/geometry-ldm-demo/',
  ortWasmUrl: '/geometry-ldm/ort/',
  preferWebGPU: true,
};

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function pick<T>(
  key: string,
  type: 'string' | 'boolean',
  ...sources: Record<string, unknown>[]
): T | undefined {
  for (const s of sources) {
    const v = s[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== type || (type === 'string' && (v as string).length === 0)) {
      throw new ConfigError(`geometryLdm.${key} must be a non-empty ${type}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }
  return undefined;
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${what} must be an object, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Merges the extension configuration (first) and the app-config section; the
 * worker URL falls back to `defaultWorkerUrl` (the bundle entry knows where it
 * was loaded from). Wrong types are a ConfigError naming the key.
 */
export function resolveConfig(
  appConfigSection: unknown,
  extensionConfiguration: unknown,
  defaultWorkerUrl: string,
): GeometryLdmConfig {
  const a = asRecord(appConfigSection, 'window.config.geometryLdm');
  const e = asRecord(extensionConfiguration, 'the extension configuration');
  return {
    modelUrl: withSlash(pick<string>('modelUrl', 'string', e, a) ?? DEFAULT_CONFIG.modelUrl),
    ortWasmUrl: withSlash(pick<string>('ortWasmUrl', 'string', e, a) ?? DEFAULT_CONFIG.ortWasmUrl),
    workerUrl: pick<string>('workerUrl', 'string', e, a) ?? defaultWorkerUrl,
    preferWebGPU: pick<boolean>('preferWebGPU', 'boolean', e, a) ?? DEFAULT_CONFIG.preferWebGPU,
    ...codecs(pick<string>('codecWasmUrl', 'string', e, a)),
  };
}

const codecs = (url: string | undefined): { codecWasmUrl?: string } =>
  url ? { codecWasmUrl: withSlash(url) } : {};

export function manifestUrl(config: GeometryLdmConfig): string {
  return `${config.modelUrl}model.json`;
}
