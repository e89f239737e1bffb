/**
 * DICOM UIDs of the form 2.25.<decimal of a 128-bit UUID> (PS3.5 B.2).
 *
 * - `newUid()`: a random (version 4) UUID: every call is a new UID. Every
 *   written series and instance gets fresh ones (a PACS such as Orthanc silently
 *   keeps the first content of a duplicate SOP Instance UID).
 * - `deterministicUid(name)`: a name-based (version 5, SHA-1) UUID, for import
 *   repair where reruns must produce the same UIDs (so nothing is duplicated).
 * Pure: runs in browsers, workers and Node (Web Crypto's getRandomValues).
 */
import { DicomError } from './errors';

/** Namespace of the product's name-based UIDs (a fixed random UUID). */
export const UID_NAMESPACE = '6f1b3a52-8c1e-4c7d-9a55-2d0c4f9e7b10';

/** Implementation Class UID written into the file meta of our instances. */
export const IMPLEMENTATION_CLASS_UID = '2.25.147160418112446296016547045626815227233';
export const IMPLEMENTATION_VERSION_NAME = 'GEOMETRY_LDM_01';

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

/** True for a syntactically valid UID (components without leading zeros, at most 64 characters). */
export function isValidUid(uid: unknown): uid is string {
  return typeof uid === 'string' && uid.length > 0 && uid.length <= 64 && UID_PATTERN.test(uid);
}

function uidFromBytes(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return `2.25.${n.toString(10)}`;
}

/** A new random UID (2.25 + UUID v4). */
export function newUid(): string {
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (!c?.getRandomValues)
    throw new DicomError('invalid-input', 'no Web Crypto getRandomValues to make new UIDs');
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return uidFromBytes(bytes);
}

/** A UID that depends only on `name` (2.25 + UUID v5 in the product's namespace). */
export function deterministicUid(name: string): string {
  const ns = UID_NAMESPACE.replace(/-/g, '');
  const nsBytes = new Uint8Array(16);
  for (let n = 0; n < 16; n++) nsBytes[n] = parseInt(ns.slice(2 * n, 2 * n + 2), 16);
  const nameBytes = new TextEncoder().encode(name);
  const input = new Uint8Array(16 + nameBytes.length);
  input.set(nsBytes, 0);
  input.set(nameBytes, 16);
  const bytes = sha1(input).slice(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return uidFromBytes(bytes);
}

/** SHA-1 (FIPS 180-4); used only to derive name-based UUIDs, not for security. */
export function sha1(message: Uint8Array): Uint8Array {
  const ml = message.length;
  const withPad = ((ml + 9 + 63) >> 6) << 6;
  const buf = new Uint8Array(withPad);
  buf.set(message);
  buf[ml] = 0x80;
  const view = new DataView(buf.buffer);
  const bitLen = ml * 8;
  view.setUint32(withPad - 8, Math.floor(bitLen / 0x100000000));
  view.setUint32(withPad - 4, bitLen >>> 0);
  let h0 = 0x67452301;
  let h1 = 0xefcdab89;
  let h2 = 0x98badcfe;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let off = 0; off < withPad; off += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(off + 4 * t);
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) >>> 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) >>> 0;
    h1 = (h1 + b) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0;
  }
  const out = new Uint8Array(20);
  const ov = new DataView(out.buffer);
  [h0, h1, h2, h3, h4].forEach((h, n) => ov.setUint32(4 * n, h));
  return out;
}
