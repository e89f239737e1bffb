// One jest for the whole repository. TypeScript is stripped by swc (type
// checking is `npm run typecheck`); ES module syntax becomes CommonJS for jest.
module.exports = {
  testEnvironment: 'node',
  roots: [
    '<rootDir>/extensions',
    '<rootDir>/modes',
    '<rootDir>/platform-config',
    '<rootDir>/models',
    '<rootDir>/test',
  ],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript', tsx: true }, target: 'es2022' },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/'],
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.cjs'],
};
