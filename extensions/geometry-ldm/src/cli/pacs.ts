/**
 * PACS connection for the CLI. Credentials come from the environment or a
 * config file, never from the command line (it ends up in shell history):
 *   GEOMETRY_LDM_PACS_USER + GEOMETRY_LDM_PACS_PASSWORD (HTTP Basic), or
 *   GEOMETRY_LDM_PACS_TOKEN (Bearer), or --config FILE with
 *   { "pacs": URL, "user": ..., "password": ... } or { "token": ... }.
 */
import { readFileSync } from 'node:fs';
import { createNodeHttpTransport } from '../dicom/nodeHttpTransport';
import { redactUrl, type DicomwebTransport } from '../dicom/transport';
import { searchStudies } from '../dicom/qido';
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
  let parsed: URL;
  try {
    parsed = new URL(pacs);
  } catch {
    throw new UsageError(`--pacs is not a URL: "${redactUrl(pacs)}"`);
  }
  if (parsed.username || parsed.password) {
    // never echoed: the URL carries a secret
    throw new UsageError(
      '--pacs must not contain credentials (user:password@host): give them in GEOMETRY_LDM_PACS_USER / ' +
        'GEOMETRY_LDM_PACS_PASSWORD, GEOMETRY_LDM_PACS_TOKEN or a --config file',
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(`--pacs must be an http:// or https:// URL, got ${parsed.protocol}`);
  const user = env.GEOMETRY_LDM_PACS_USER ?? file.user;
  const password = env.GEOMETRY_LDM_PACS_PASSWORD ?? file.password;
  const token = env.GEOMETRY_LDM_PACS_TOKEN ?? file.token;
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (user !== undefined)
    headers.Authorization = `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`;
  return { url: pacs, headers };
}

/** node:http(s) with kept-alive sockets: about twice Node fetch's rate for large answers (BENCHMARKS.md). */
export function pacsTransport(config: PacsConfig): DicomwebTransport {
  return createNodeHttpTransport({ root: config.url, headers: config.headers });
}

/**
 * One QIDO request that tells a wrong URL from a missing study: a DICOMweb root answers
 * `studies?limit=1` with JSON; a web server or Orthanc's REST root answers 404 (or HTML).
 * Other failures (credentials, network) pass through with their own codes.
 */
export async function checkDicomwebRoot(transport: DicomwebTransport, url: string): Promise<void> {
  try {
    await searchStudies(transport, { limit: '1' });
  } catch (e) {
    const err = e as { code?: string; message?: string; details?: { status?: number } };
    const status = err.details?.status;
    // 404/400/405/406 or an answer that is not DICOM JSON: something is there, but not QIDO-RS
    const notQido =
      err.code === 'not-found' ||
      (err.code === 'pacs-error' &&
        ((status !== undefined && [400, 404, 405, 406].includes(status)) || /JSON/.test(err.message ?? '')));
    if (notQido)
      throw new UsageError(
        `--pacs ${redactUrl(url)} does not answer as a DICOMweb root (QIDO-RS "studies": ${String(err.message).replace(/^GET studies: /, '')}); ` +
          'give the DICOMweb base URL, e.g. http://host:8042/dicom-web for Orthanc',
      );
    throw e;
  }
}
