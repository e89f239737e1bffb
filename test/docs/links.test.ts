/**
 * Every relative link in the repository's Markdown resolves to a file or folder inside the
 * repository (no pointers to material outside it; links to web pages are not checked here).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const REPO = resolve(__dirname, '..', '..');
const files = execFileSync('git', ['ls-files', '*.md'], { cwd: REPO, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && !f.includes('node_modules'));

function links(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1]);
  return out.filter((t) => !/^(https?:|mailto:|#)/.test(t));
}

test('the repository has Markdown to check', () => {
  expect(files.length).toBeGreaterThan(5);
});

test.each(files)('%s: relative links resolve inside the repository', (file) => {
  const text = execFileSync('git', ['show', `:${file}`], { cwd: REPO, encoding: 'utf8' });
  const broken: string[] = [];
  for (const target of links(text)) {
    const path = decodeURIComponent(target.split('#')[0]);
    if (!path) continue;
    const abs = resolve(join(REPO, dirname(file)), path);
    if (relative(REPO, abs).startsWith('..') || !existsSync(abs)) broken.push(target);
  }
  expect(broken).toEqual([]);
});
