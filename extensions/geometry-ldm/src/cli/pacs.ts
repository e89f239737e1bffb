/**
 * PACS connection for the CLI. Credentials come from the environment or a
 * config file, never from the command line (it ends up in shell history):
 *   GEOMETRY_LDM_PACS_USER + GEOMETRY_LDM_PACS_PASSWORD (HTTP Basic), or
 *   GEOMETRY_LDM_PACS_TOKEN (Bearer), or --config FILE with
 *   { "pacs": URL, "user": ..., "password": ... } or { "token": ... }.
 */
import { readFileSync } from 'node:fs';
import { createFetchTransport, type DicomwebTransport } from '../dicom/transport';
import { UsageError } from './exitCodes';

export interface PacsConfig {
  readonly url: string;
  readonly headers: Record<string, string>;
}

export function pacsConfig(
  url: string | undefined,
  configFile: string | undefined,
  env = process.env,
): PacsConfig {
  let file: { pacs?: string; user?: string; password?: string; token?: string } = {};
  if (configFile) {
    try {
      file = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw new UsageError(`cannot read config file ${configFile}: ${(e as Error).message}`);
    }
  }
  const pacs = url ?? file.pacs;
  if (!pacs) throw new UsageError('--pacs URL is required (the DICOMweb root, e.g. http://host/dicom-web)');
  try {
    new URL(pacs);
  } catch {
    throw new UsageError(`--pacs is not a URL: "${pacs}"`);
  }
  const user = env.GEOMETRY_LDM_PACS_USER ?? file.user;
  const password = env.GEOMETRY_LDM_PACS_PASSWORD ?? file.password;
  const token = env.GEOMETRY_LDM_PACS_TOKEN ?? file.token;
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (user !== undefined)
    headers.Authorization = `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`;
  return { url: pacs, headers };
}

export function pacsTransport(config: PacsConfig): DicomwebTransport {
  return createFetchTransport({ root: config.url, headers: config.headers });
}
