/**
 * Patient names in the source's character set survive into derived series (issue 11 item 2).
 * Real slices of Lung-PET-CT-Dx A0002 re-identified with a Latin-1 (ISO_IR 100), a UTF-8
 * (ISO_IR 192) and a Japanese ISO 2022 (ISO 2022 IR 87, the PS3.5 H.3.1 example) patient name,
 * written byte for byte; read through Orthanc, a derived series is built from the headers
 * Orthanc returns, stored, and checked by Orthanc's own decoding of what was stored (its REST
 * JSON) and by dciodvfy.
 */
import * as path from 'node:path';
import { readSeries } from '../../extensions/geometry-ldm/src/dicom/readSeries';
import { stowInstances } from '../../extensions/geometry-ldm/src/dicom/stow';
import type { DicomwebTransport } from '../../extensions/geometry-ldm/src/dicom/transport';
import { buildDerivedSeries } from '../../extensions/geometry-ldm/src/dicom/writeDerivedSeries';
import { dciodvfy } from '../support/dciodvfy';
import { orthancTransport } from '../support/dicomweb';
import { startOrthanc, type OrthancInstance } from '../support/orthanc';
import { readReference } from '../support/reference';
import { seriesDir } from '../support/seed';
import { uploadCopy } from '../support/uploadCopy';

let orthanc: OrthancInstance;
let transport: DicomwebTransport;

beforeAll(async () => {
  orthanc = await startOrthanc();
  transport = orthancTransport(orthanc);
}, 60000);

afterAll(async () => {
  await orthanc?.stop();
});

const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));

/** [label, SpecificCharacterSet values, PatientName bytes in that set, the name as Unicode] */
const CASES: Array<[string, string[], Uint8Array, string]> = [
  ['Latin-1 (ISO_IR 100)', ['ISO_IR 100'], hex('4dfc6c6c65725e4afc7267656e'), 'Müller^Jürgen'],
  ['UTF-8 (ISO_IR 192)', ['ISO_IR 192'], hex('e5b1b1e794b05ee5a4aae9838e'), '山田^太郎'],
  [
    'Japanese (ISO 2022 IR 87)',
    ['', 'ISO 2022 IR 87'],
    hex(
      '59616d6164615e5461726f753d1b24423b3345441b28425e1b244242404f3a1b28423d1b24422464245e24401b28425e1b2442243f246d24261b2842',
    ),
    'Yamada^Tarou=山田^太郎=やまだ^たろう',
  ],
];

/** The name bytes put in place of an ASCII placeholder of the same (even) length: no length field changes. */
function replaceBytes(bytes: Uint8Array, placeholder: string, value: Uint8Array): Uint8Array {
  const p = new TextEncoder().encode(placeholder);
  const at = Buffer.from(bytes).indexOf(Buffer.from(p));
  if (at < 0 || Buffer.from(bytes).indexOf(Buffer.from(p), at + 1) >= 0)
    throw new Error('placeholder not unique');
  const out = bytes.slice();
  out.set(value, at);
  return out;
}

async function orthancJson(url: string): Promise<unknown> {
  const r = await fetch(`${orthanc.url}${url}`, { headers: { Authorization: orthanc.authorization } });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function orthancPatientName(sop: string): Promise<string> {
  const ids = (await (
    await fetch(`${orthanc.url}/tools/lookup`, {
      method: 'POST',
      body: sop,
      headers: { Authorization: orthanc.authorization },
    })
  ).json()) as { ID: string; Type: string }[];
  const id = ids.find((x) => x.Type === 'Instance')!.ID;
  const tags = (await orthancJson(`/instances/${id}/simplified-tags`)) as Record<string, string>;
  return tags.PatientName;
}

describe('non-ASCII patient names are copied with their character set', () => {
  test.each(CASES)(
    '%s: the derived series shows the same name in Orthanc, dciodvfy finds no error',
    async (_n, charset, nameBytes, unicode) => {
      const dir = seriesDir('lung-pet-ct-dx-a0002');
      const files = readReference(dir)
        .slices.map((x) => path.join(dir, x.file))
        .slice(0, 4);
      const padded = new Uint8Array(nameBytes.length + (nameBytes.length % 2));
      padded.fill(0x20);
      padded.set(nameBytes);
      const placeholder = 'Q'.repeat(padded.length - 1) + '#';
      const { study, series, sops } = await uploadCopy(
        transport,
        files,
        (d) => {
          d['00080005'] = { vr: 'CS', Value: charset };
          d['00100010'] = { vr: 'PN', Value: [{ Alphabetic: placeholder }] };
        },
        (bytes) => replaceBytes(bytes, placeholder, padded),
      );
      expect(await orthancPatientName(sops[0])).toBe(unicode); // the crafted source is what it claims

      const read = await readSeries(transport, study, series);
      const built = buildDerivedSeries({
        source: read.instances,
        result: read.volume,
        model: { name: 'charset-test', version: '0' },
        label: 'charset',
        existingSeriesNumbers: [],
      });
      const report = await stowInstances(transport, built.result.instances);
      expect(report.notStored).toEqual([]);
      expect(await orthancPatientName(built.result.instances[0].sopInstanceUid)).toBe(unicode);
      const v = dciodvfy(built.result.instances[0].bytes);
      expect(v.errors).toEqual([]);
      expect(v.warnings.filter((w) => /character|SpecificCharacterSet/i.test(w))).toEqual([]);
    },
    60000,
  );
});
