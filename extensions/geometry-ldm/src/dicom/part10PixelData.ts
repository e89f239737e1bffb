/**
 * The pixel data of a DICOM Part 10 file without parsing the rest: series-level WADO-RS answers
 * with whole instances, and reading one needs only its transfer syntax, its SOP Instance UID and
 * its frames. Walks the elements (explicit or implicit VR little endian; undefined-length
 * sequences and items skipped by their delimiters) to (7FE0,0010). Frames: native data cut by
 * the caller's frame size; encapsulated data as one frame per fragment run (the Basic Offset
 * Table when present, else all fragments of a single-frame instance, else one per fragment).
 *
 * Anything it does not handle (big endian, deflated, a malformed file) gives null: the caller
 * fetches that instance's frames one by one instead, as it would without series-level retrieval.
 */
import { ChunkedBytes } from './chunkedBytes';
import { TRANSFER_SYNTAX } from './decodeFrame';

export interface Part10PixelData {
  readonly transferSyntaxUid: string;
  /** '' when the file has none (the caller matches instances by it). */
  readonly sopInstanceUid: string;
  /**
   * Native: the whole PixelData value (where it arrived: a view, or the received chunks it
   * spans). Encapsulated: null (see `fragments`).
   */
  readonly native: Uint8Array | ChunkedBytes | null;
  /** Encapsulated: the Basic Offset Table (offsets, possibly empty) and the fragments in order. */
  readonly encapsulated: {
    readonly offsets: readonly number[];
    readonly fragments: readonly Uint8Array[];
  } | null;
}

const LITTLE_ENDIAN: ReadonlySet<string> = new Set([
  TRANSFER_SYNTAX.implicitLittle,
  TRANSFER_SYNTAX.explicitLittle,
]);
/** VRs whose explicit-VR header has a 4-byte length (PS3.5 7.1.2). */
const LONG_VRS: ReadonlySet<string> = new Set([
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'SQ',
  'SV',
  'UC',
  'UN',
  'UR',
  'UT',
  'UV',
]);
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const SOP_INSTANCE_UID = 0x00080018;
const TRANSFER_SYNTAX_UID = 0x00020010;

class Unhandled extends Error {}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  if (start + length > bytes.length) throw new RangeError('beyond the bytes at hand');
  let s = '';
  for (let n = start; n < start + length; n++) s += String.fromCharCode(bytes[n]);
  return s.replace(/[\0 ]+$/, '');
}

/**
 * Bytes copied from the start of an instance spread over received chunks: the elements before
 * the pixel data of a CT image take a few KiB; the pixel data itself stays in the chunks.
 */
const HEADER_PREFIX_BYTES = 64 * 1024;
/** Reused for every prefix: walk() keeps offsets and strings, never views of it. */
let prefixBuffer: Uint8Array | null = null;

/** Where walk() found things: byte ranges [start, end) of the instance. */
interface Located {
  readonly transferSyntaxUid: string;
  readonly sopInstanceUid: string;
  readonly native: readonly [number, number] | null;
  readonly encapsulated: {
    readonly offsets: readonly number[];
    readonly fragments: readonly (readonly [number, number])[];
  } | null;
}

/** Null when the bytes are not a Part 10 file this walker reads (the caller falls back). */
export function part10PixelData(bytes: Uint8Array | ChunkedBytes): Part10PixelData | null {
  const whole = bytes instanceof ChunkedBytes ? bytes.view() : bytes;
  if (whole) return readWhole(whole);
  const spread = bytes as ChunkedBytes;
  const prefix = spread
    .subarray(0, HEADER_PREFIX_BYTES)
    .contiguous((prefixBuffer ??= new Uint8Array(HEADER_PREFIX_BYTES)));
  try {
    const found = walk(prefix, spread.length);
    return found && cut(found, spread);
  } catch (e) {
    if (e instanceof Unhandled) return null;
    if (!(e instanceof RangeError)) throw e;
  }
  // elements beyond the prefix (a long header, encapsulated pixel data): the whole instance
  return readWhole(spread.contiguous());
}

function readWhole(bytes: Uint8Array): Part10PixelData | null {
  try {
    const found = walk(bytes, bytes.length);
    return found && cut(found, bytes);
  } catch (e) {
    if (e instanceof Unhandled || e instanceof RangeError) return null;
    throw e;
  }
}

/** The pixel data at the ranges walk() found, cut from the instance's bytes (not copied). */
function cut(found: Located, bytes: Uint8Array | ChunkedBytes): Part10PixelData {
  return {
    transferSyntaxUid: found.transferSyntaxUid,
    sopInstanceUid: found.sopInstanceUid,
    native: found.native && bytes.subarray(found.native[0], found.native[1]),
    encapsulated: found.encapsulated && {
      offsets: found.encapsulated.offsets,
      // fragments are few and small (compressed frames): a spread one is copied out of the chunks
      fragments: found.encapsulated.fragments.map(([a, b]) => {
        const f = bytes.subarray(a, b);
        return f instanceof ChunkedBytes ? f.contiguous() : f;
      }),
    },
  };
}

/**
 * Walks `bytes`, the first bytes of an instance `end` bytes long (all of it, or a prefix: a read
 * past the prefix throws RangeError, and the caller retries with the whole instance).
 */
function walk(bytes: Uint8Array, end: number): Located | null {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (end < 132 || ascii(bytes, 128, 4) !== 'DICM') return null;
  let pos = 132;
  let transferSyntaxUid = '';
  let sopInstanceUid = '';

  /** One element header at `p`: tag, VR (explicit) or '', value length, value offset. */
  const header = (p: number, explicit: boolean) => {
    if (p + 8 > bytes.length) throw new RangeError('element header beyond the bytes at hand');
    const tag = ((dv.getUint16(p, true) << 16) | dv.getUint16(p + 2, true)) >>> 0;
    if (tag === ITEM || tag === ITEM_END || tag === SEQUENCE_END)
      return { tag, vr: '', length: dv.getUint32(p + 4, true), value: p + 8 };
    if (!explicit) return { tag, vr: '', length: dv.getUint32(p + 4, true), value: p + 8 };
    const vr = String.fromCharCode(bytes[p + 4], bytes[p + 5]);
    if (LONG_VRS.has(vr)) return { tag, vr, length: dv.getUint32(p + 8, true), value: p + 12 };
    if (!/^[A-Z]{2}$/.test(vr)) throw new Unhandled(`not an explicit VR at ${p}`);
    return { tag, vr, length: dv.getUint16(p + 6, true), value: p + 8 };
  };

  /** Skips elements from `p` until `stop` (an item or sequence delimiter) or `limit`; returns the position after. */
  const skipElements = (p: number, limit: number, explicit: boolean, stop: number | null): number => {
    while (p < limit) {
      const h = header(p, explicit);
      if (stop !== null && h.tag === stop) return h.value;
      if (h.length === UNDEFINED) {
        // a sequence (or an undefined-length UN holding one, implicit VR inside): items to its delimiter
        if (h.vr !== 'SQ' && h.vr !== '' && h.vr !== 'UN') throw new Unhandled(`undefined length ${h.vr}`);
        p = skipItems(h.value, limit, h.vr === 'UN' ? false : explicit);
      } else {
        p = h.value + h.length;
      }
    }
    if (stop !== null) throw new Unhandled('missing delimiter');
    return p;
  };
  const skipItems = (p: number, limit: number, explicit: boolean): number => {
    for (;;) {
      const h = header(p, explicit);
      if (h.tag === SEQUENCE_END) return h.value;
      if (h.tag !== ITEM) throw new Unhandled(`expected an item at ${p}`);
      p = h.length === UNDEFINED ? skipElements(h.value, limit, explicit, ITEM_END) : h.value + h.length;
      if (p > limit) throw new Unhandled('item beyond the end');
    }
  };

  // file meta information: always explicit VR little endian
  while (pos < end && dv.getUint16(pos, true) === 0x0002) {
    const h = header(pos, true);
    if (h.tag === TRANSFER_SYNTAX_UID) transferSyntaxUid = ascii(bytes, h.value, h.length);
    pos = h.value + h.length;
  }
  if (!LITTLE_ENDIAN.has(transferSyntaxUid) && !isEncapsulated(transferSyntaxUid)) return null;
  const explicit = transferSyntaxUid !== TRANSFER_SYNTAX.implicitLittle;
  while (pos < end) {
    const h = header(pos, explicit);
    if (h.tag === SOP_INSTANCE_UID) sopInstanceUid = ascii(bytes, h.value, h.length);
    if (h.tag === PIXEL_DATA) {
      if (h.length !== UNDEFINED) {
        if (h.value + h.length > end) return null;
        return {
          transferSyntaxUid,
          sopInstanceUid,
          native: [h.value, h.value + h.length],
          encapsulated: null,
        };
      }
      return { transferSyntaxUid, sopInstanceUid, native: null, encapsulated: fragmentsAt(h.value) };
    }
    if (h.length === UNDEFINED) {
      pos =
        h.vr === 'SQ' || h.vr === '' || h.vr === 'UN'
          ? skipItems(h.value, end, h.vr === 'UN' ? false : explicit)
          : end;
      if (pos === end) throw new Unhandled(`undefined length ${h.vr}`);
    } else pos = h.value + h.length;
  }
  return null;

  function fragmentsAt(p: number): { offsets: number[]; fragments: [number, number][] } {
    const items: [number, number][] = [];
    for (;;) {
      const tag = ((dv.getUint16(p, true) << 16) | dv.getUint16(p + 2, true)) >>> 0;
      const length = dv.getUint32(p + 4, true);
      if (tag === SEQUENCE_END) break;
      if (tag !== ITEM || length === UNDEFINED || p + 8 + length > end) throw new Unhandled('bad fragment');
      items.push([p + 8, p + 8 + length]);
      p += 8 + length;
    }
    if (items.length === 0) throw new Unhandled('no offset table');
    const [t0, t1] = items[0];
    const offsets = Array.from({ length: (t1 - t0) >> 2 }, (_, i) => dv.getUint32(t0 + 4 * i, true));
    return { offsets, fragments: items.slice(1) };
  }
}

function isEncapsulated(ts: string): boolean {
  // every syntax here other than the three native ones and deflate stores encapsulated pixel data
  return (
    Object.values(TRANSFER_SYNTAX).includes(ts as never) &&
    ts !== TRANSFER_SYNTAX.explicitBig &&
    ts !== TRANSFER_SYNTAX.deflatedExplicitLittle &&
    !LITTLE_ENDIAN.has(ts)
  );
}

/**
 * Frame `index` (0-based) of `numberOfFrames` from a Part10PixelData: native frames are cut by
 * `frameBytes`; encapsulated frames follow the Basic Offset Table, or are all fragments for a
 * single frame, or one fragment each when fragments and frames match. Null when that cannot be
 * told apart (the caller fetches the frame on its own).
 */
export function part10Frame(
  p: Part10PixelData,
  index: number,
  numberOfFrames: number,
  frameBytes: number,
): Uint8Array | ChunkedBytes | null {
  if (p.native) {
    const start = index * frameBytes;
    return start + frameBytes <= p.native.length ? p.native.subarray(start, start + frameBytes) : null;
  }
  const { offsets, fragments } = p.encapsulated!;
  const join = (parts: readonly Uint8Array[]): Uint8Array => {
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(parts.reduce((s, f) => s + f.length, 0));
    let o = 0;
    for (const f of parts) {
      out.set(f, o);
      o += f.length;
    }
    return out;
  };
  if (numberOfFrames === 1) return fragments.length ? join(fragments) : null;
  if (offsets.length === numberOfFrames) {
    // offsets count bytes from the first fragment's item tag: 8 bytes of item header per fragment
    const starts: number[] = [];
    let at = 0;
    for (const f of fragments) {
      starts.push(at);
      at += 8 + f.length;
    }
    const first = starts.indexOf(offsets[index]);
    const next = index + 1 < offsets.length ? starts.indexOf(offsets[index + 1]) : fragments.length;
    if (first < 0 || next < 0 || next <= first) return null;
    return join(fragments.slice(first, next));
  }
  return fragments.length === numberOfFrames ? fragments[index] : null;
}
