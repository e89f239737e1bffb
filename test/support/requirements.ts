/**
 * The one place that decides whether a test whose tools are missing runs, fails or skips.
 * - Available: the test runs.
 * - Missing under CI (CI set, not "false"/"0"): the test runs and fails, naming what is missing
 *   and how to install it: nothing vanishes silently from a CI run.
 * - Missing outside CI: the test is skipped and one line says what is missing.
 * Every "is torch / chromium / nginx installed" decision in the suites goes through here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const IN_CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

export interface Requirement {
  readonly available: boolean;
  /** `test` when available or under CI (failing with the reason), else `test.skip`. */
  readonly test: jest.It;
  /** The same for a whole `describe` block (under CI without it: one failing test instead). */
  describe(name: string, body: () => void): void;
  /** Throws the missing-tool error; call first in a test that must not run without it. */
  check(): void;
}

export function requirement(what: string, available: boolean, install: string): Requirement {
  const reason = `needs ${what} (${install})`;
  if (!available && !IN_CI) console.warn(`SKIPPED: ${reason}`);
  const check = (): void => {
    if (!available) throw new Error(`CI is set but this test ${reason}`);
  };
  const failing = ((name: string, fn?: jest.ProvidesCallback, timeout?: number) =>
    test(
      name,
      async () => {
        check();
        await (fn as () => unknown)?.();
      },
      timeout,
    )) as unknown as jest.It;
  return {
    available,
    test: available ? test : IN_CI ? failing : test.skip,
    describe(name, body) {
      if (available) describe(name, body);
      else if (IN_CI) describe(name, () => test('its requirements are installed', check));
      else describe.skip(name, body);
    },
    check,
  };
}

let torch: boolean | undefined;
/** Debian's python3 with torch and numpy (the training code's and the references' runtime). */
export function pythonWithTorchAvailable(python = '/usr/bin/python3'): boolean {
  torch ??= spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
  return torch;
}

export const TORCH = (): Requirement =>
  requirement(
    '/usr/bin/python3 with torch and numpy',
    pythonWithTorchAvailable(),
    'apt install python3-torch python3-numpy',
  );

export const fileRequirement = (what: string, path: string, install: string): Requirement =>
  requirement(what, existsSync(path), install);
