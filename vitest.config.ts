import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const reporters: string[] = process.env.SOCKSERVE_TEST_JSON ? ['default', 'json'] : ['default'];

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, one copy of each package. Fixtures that worker
    // processes import are plain JavaScript importing the built packages (`dist`); in the test
    // process those imports load the sources too, so that a class is the same class everywhere.
    alias: [
      { find: /^(?:\.\.\/)+(?:packages\/)?(core|handlers|transports|worker-pool|testing)\/dist\/index\.js$/, replacement: `${root}packages/$1/src/index.ts` },
      { find: /^@sockserve\/transports\/(tcp|udp|unix)$/, replacement: `${root}packages/transports/src/$1.ts` },
      { find: /^@sockserve\/core\/internal$/, replacement: `${root}packages/core/src/internal.ts` },
      { find: /^@sockserve\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
      { find: /^sockserve$/, replacement: `${root}packages/sockserve/src/index.ts` },
    ],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'benchmarks/test/**/*.test.ts',
      'soak/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    setupFiles: [`${root}test/setup/leaks.ts`],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters,
    outputFile: { json: process.env.SOCKSERVE_TEST_JSON ?? '' },
  },
});
