/**
 * The CLI's container image installs with `npm ci --omit=dev` and copies only
 * some folders: every package the CLI imports at run time must then be a
 * (non-dev) dependency of the extension, and every repository file it bundles
 * must be copied. Both lists come from esbuild's own resolution of the CLI
 * (the launcher bundles src/cli/bin.ts the same way), not from a hand list.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { build } from 'esbuild';

const REPO = resolve(__dirname, '..', '..');
const EXT = resolve(REPO, 'extensions', 'geometry-ldm');
const DOCKERFILE = resolve(REPO, 'platform-config', 'k8s', 'Dockerfile');

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

async function cliInputs(): Promise<{ packages: string[]; files: string[] }> {
  const r = await build({
    entryPoints: [resolve(EXT, 'src', 'cli', 'bin.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: REPO,
  });
  const packages = new Set<string>();
  for (const input of Object.values(r.metafile.inputs))
    for (const imp of input.imports) if (imp.external) packages.add(packageName(imp.path));
  // The launcher itself (bin/geometry-ldm.mjs) imports esbuild.
  packages.add('esbuild');
  const builtins = new Set(builtinModules);
  return {
    packages: [...packages].filter((p) => !p.startsWith('node:') && !builtins.has(p)).sort(),
    files: Object.keys(r.metafile.inputs).sort(),
  };
}

describe('CLI container image (npm ci --omit=dev)', () => {
  it('has every run-time import of the CLI as a dependency of the extension', async () => {
    const pkg = JSON.parse(readFileSync(resolve(EXT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const { packages } = await cliInputs();
    expect(packages).toContain('ajv');
    expect(packages.filter((p) => !(p in pkg.dependencies))).toEqual([]);
  });

  it('copies every repository file the CLI bundles, and installs without dev dependencies', async () => {
    const docker = readFileSync(DOCKERFILE, 'utf8');
    const copied = [...docker.matchAll(/^COPY\s+(\S+)\s+\S+\s*$/gm)].map((m) => m[1]);
    const { files } = await cliInputs();
    const missing = files.filter((f) => !copied.some((c) => f === c || f.startsWith(`${c}/`)));
    expect(missing).toEqual([]);
    expect(docker).toMatch(/npm ci --omit=dev/);
    expect(docker).not.toMatch(/npm install/);
  });
});
