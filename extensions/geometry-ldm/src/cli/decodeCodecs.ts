/**
 * The codecs the CLI reads with: compressed frames decoded by a worker pool of one worker per
 * core (dicom/nodeDecodePool.ts) when the launcher has bundled the worker
 * (GEOMETRY_LDM_DECODE_WORKER), in this thread otherwise. The pool's workers are unref'd.
 */
import { defaultCodecs } from '../dicom/codecs';
import type { FrameCodecs } from '../dicom/decodeFrame';
import { pooledCodecs } from '../dicom/decodePool';
import { createNodeDecodePool } from '../dicom/nodeDecodePool';

let codecs: FrameCodecs | null = null;

export function cliReadCodecs(env: NodeJS.ProcessEnv = process.env): FrameCodecs {
  if (codecs) return codecs;
  const worker = env.GEOMETRY_LDM_DECODE_WORKER;
  codecs = worker ? pooledCodecs(createNodeDecodePool(worker), defaultCodecs()) : defaultCodecs();
  return codecs;
}
