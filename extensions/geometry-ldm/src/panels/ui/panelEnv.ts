/** What the panel components receive from the extension: engine, OHIF, PACS, config, memory. */
import type { GeometryLdmConfig } from '../../ohif/config';
import type { EngineSession } from '../engineSession';
import type { OhifAdapter } from '../ohifAdapter';
import type { Pacs } from '../pacs';
import type { PageMemory } from '../pageMemory';

export interface PanelEnv {
  readonly engine: EngineSession;
  readonly ohif: OhifAdapter;
  /** The PACS over the viewer's DICOMweb root (created on first use). */
  pacs(): Pacs;
  readonly config: GeometryLdmConfig;
  readonly now?: () => number;
  /** Settings and running-job markers kept across a reload (the tab's sessionStorage). */
  readonly memory?: PageMemory;
}

/** Same-origin default when the data source does not say where DICOMweb lives. */
export function defaultDicomWebRoot(): string {
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin ?? '';
  return `${origin}/dicom-web`;
}
