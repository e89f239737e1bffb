/**
 * worker_threads entry of the Node decode pool (nodeDecodePool.ts): the default codecs, whose
 * wasm Node finds next to each codec's script. Bundle it to a script (esbuild, platform node,
 * packages external) and give that file to createNodeDecodePool.
 */
import { parentPort } from 'node:worker_threads';
import { defaultCodecs } from './codecs';
import { serveFrameDecode, type DecodeRequest } from './decodePool';

const codecs = defaultCodecs();
parentPort!.on('message', (request: DecodeRequest) => {
  void serveFrameDecode(codecs, request).then(({ reply, transfer }) =>
    parentPort!.postMessage(reply, transfer),
  );
});
