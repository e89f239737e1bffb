/**
 * The dciodvfy helper the CLI (and DICOMweb) tests rely on gives a verdict only
 * when dciodvfy really ran: a missing binary, a crash or a silent failing exit
 * throws instead of returning "no errors".
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dciodvfy } from '../support/dciodvfy';
import { seriesFiles } from '../support/sharedData';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gldm-dciodvfy-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const f = join(dir, name);
  writeFileSync(f, `#!/bin/sh\n${body}\n`);
  chmodSync(f, 0o755);
  return f;
}

const real = () => new Uint8Array(readFileSync(seriesFiles('lung-pet-ct-dx-a0002')[0]));

it('throws when the binary is missing', () => {
  expect(() => dciodvfy(real(), join(dir, 'no-such-dciodvfy'))).toThrow(/dciodvfy not found/);
});

it('throws when it crashes', () => {
  expect(() => dciodvfy(real(), script('segv', 'kill -SEGV $$'))).toThrow(/crashed \(SIGSEGV\)/);
});

it('throws on a failing exit that reports no error', () => {
  expect(() => dciodvfy(real(), script('fail', 'echo CTImage; exit 3'))).toThrow(
    /exited 3 without reporting/,
  );
});

it('reports the errors of a file it cannot read (exit 1), including tag-prefixed ones', () => {
  const r = dciodvfy(new TextEncoder().encode('garbage\n'));
  expect(r.errors).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^\(0x[0-9a-f]{4},0x[0-9a-f]{4}\).* - Error - Bad Value Length/),
      'Error - Dicom dataset read failed',
    ]),
  );
});

it('passes a real CT instance it can read', () => {
  const r = dciodvfy(real());
  expect(r.output).toMatch(/CTImage/);
});
