import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

/**
 * Layers of the extension import downwards only (README "Code layout"):
 *   geometry, diffusion, volume  <  dicom, model, inference  <  planning  <  worker, panels, ohif, cli
 * The core never imports the UI or the CLI; panels and CLI never import each other.
 * Tests are not layers (they may use any module to build their checks).
 */
const SRC = 'extensions/geometry-ldm/src';
const above = (...dirs) => dirs.map((d) => `**/${d}/**`).concat(dirs.map((d) => `**/${d}`));
const layer = (dirs, forbidden, why) => ({
  files: dirs.map((d) => `${SRC}/${d}/**/*.{ts,tsx}`),
  ignores: [`${SRC}/**/*.test.{ts,tsx}`, `${SRC}/**/__fixtures__/**`],
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: above(...forbidden), message: why }] }],
  },
});
const LAYERS = [
  layer(
    ['geometry', 'diffusion', 'volume'],
    ['dicom', 'model', 'inference', 'planning', 'worker', 'panels', 'ohif', 'cli'],
    'pure math: geometry, diffusion and volume import nothing above them',
  ),
  layer(
    ['dicom', 'model', 'inference'],
    ['planning', 'worker', 'panels', 'ohif', 'cli'],
    'the core (DICOM, model, inference) never imports planning, the worker, the UI or the CLI',
  ),
  layer(
    ['planning'],
    ['worker', 'panels', 'ohif', 'cli'],
    'planning is UI-free: the panels and the CLI both use it',
  ),
  layer(['panels', 'ohif'], ['cli'], 'the panels never import the CLI'),
  layer(
    ['cli'],
    ['panels', 'ohif', 'worker'],
    'the CLI never imports the panels, OHIF or the browser worker',
  ),
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/build/**',
      'test-artifacts/**',
      'models/**/*.py',
      'platform-config/viewer/**',
      '**/.cache/**',
      '.tmp/**',
      'models/checkpoints/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        self: 'readonly',
        window: 'readonly',
        document: 'readonly',
        module: 'writable',
        require: 'readonly',
        __dirname: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // React panels: hooks only at the top level of components and custom hooks, complete deps
    files: ['extensions/geometry-ldm/src/**/*.{ts,tsx}', 'modes/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  ...LAYERS,
);
