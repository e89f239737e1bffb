/**
 * The two panels of the extension, bound to the OHIF services of the running
 * viewer. The platform renders each returned component as an island with the
 * extension's own React 18 inside OHIF's panel; both share one inference
 * engine (one worker) and one PACS connection.
 */
import { pageMemory, type SessionStorageLike } from './pageMemory';
import * as React from 'react';
import { manifestUrl, type GeometryLdmConfig } from '../ohif/config';
import type { WorkerLike } from '../worker/engineClient';
import type { StorageLike } from './calibration';
import { EngineSession } from './engineSession';
import { createOhifAdapter, type OhifAdapter } from './ohifAdapter';
import { createPacs, type Pacs } from './pacs';
import { GeneratePanel } from './ui/GeneratePanel';
import { SuperResolvePanel } from './ui/SuperResolvePanel';
import { defaultDicomWebRoot, type PanelEnv } from './ui/panelEnv';

export interface PanelDeps {
  readonly servicesManager: unknown;
  readonly commandsManager: unknown;
  readonly extensionManager: unknown;
  readonly config: GeometryLdmConfig;
}

export interface Panels {
  readonly generate: React.ComponentType;
  readonly superResolve: React.ComponentType;
}

function sessionStorageOrNull(): SessionStorageLike | null {
  try {
    return (globalThis as { sessionStorage?: SessionStorageLike }).sessionStorage ?? null;
  } catch {
    return null;
  }
}

function browserStorage(): StorageLike | null {
  try {
    return (globalThis as { localStorage?: StorageLike }).localStorage ?? null;
  } catch {
    return null;
  }
}

/**
 * Where the Cornerstone codec wasm files (openjpegwasm_decode.wasm,
 * charlswasm_decode.wasm) are served: `codecWasmUrl` when the configuration
 * has one, else the directory of the worker bundle (the build copies them there).
 */
/** The frame decoder worker (decode-worker.js): the build puts it beside the engine worker. */
export function decodeWorkerUrl(config: GeometryLdmConfig): string {
  const base = (globalThis as { location?: { href?: string } }).location?.href ?? 'http://localhost/';
  return new URL('./decode-worker.js', new URL(config.workerUrl, base)).href;
}

export function codecWasmUrl(config: GeometryLdmConfig): string {
  if (config.codecWasmUrl) return config.codecWasmUrl;
  const base = (globalThis as { location?: { href?: string } }).location?.href ?? 'http://localhost/';
  return new URL('./', new URL(config.workerUrl, base)).href;
}

/** The environment both panels share (exported for tests that inject a worker or a PACS). */
export function createPanelEnv(
  deps: PanelDeps,
  overrides: { createWorker?: () => WorkerLike; pacs?: Pacs; ohif?: OhifAdapter; fetch?: typeof fetch } = {},
): PanelEnv {
  const ohif = overrides.ohif ?? createOhifAdapter(deps);
  const createWorker =
    overrides.createWorker ??
    (() =>
      new Worker(deps.config.workerUrl, {
        type: 'module',
        name: 'geometry-ldm-engine',
      }) as unknown as WorkerLike);
  const engine = new EngineSession({
    manifestUrl: manifestUrl(deps.config),
    wasmPaths: deps.config.ortWasmUrl,
    createWorker,
    storage: browserStorage(),
    preferWebGPU: deps.config.preferWebGPU,
    ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
    notify: (n) => ohif.notify(n),
  });
  let pacs: Pacs | null = overrides.pacs ?? null;
  return {
    memory: pageMemory(sessionStorageOrNull()),
    engine,
    ohif,
    config: deps.config,
    pacs() {
      pacs ??= createPacs({
        root: ohif.dicomWebRoot() ?? defaultDicomWebRoot(),
        codecWasmUrl: codecWasmUrl(deps.config),
        ...(typeof Worker === 'undefined' ? {} : { decodeWorkerUrl: decodeWorkerUrl(deps.config) }),
        headers: () => ohif.authorizationHeaders(),
        ...(overrides.fetch ? { fetch: overrides.fetch } : {}),
      });
      return pacs;
    },
  };
}

export function createPanels(deps: PanelDeps): Panels {
  const env = createPanelEnv(deps);
  const generate: React.FC = () => React.createElement(GeneratePanel, { env });
  const superResolve: React.FC = () => React.createElement(SuperResolvePanel, { env });
  generate.displayName = 'GeometryLdmGeneratePanel';
  superResolve.displayName = 'GeometryLdmSuperResolvePanel';
  return { generate, superResolve };
}
