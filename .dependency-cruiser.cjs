/**
 * The house rules, checked on every test run (test/architecture.test.ts) and by
 * `npm run check:imports`: arrows point inward only, and nothing imports in a circle.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'an import cycle (types included) ties two parts so neither can change or move alone',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-is-platform-neutral',
      severity: 'error',
      comment: 'src/core is the engine: it imports nothing from the bots or the admin web',
      from: { path: '^src/core/' },
      to: { path: '^src/(bots|admin)/' },
    },
    {
      name: 'bots-only-translate',
      severity: 'error',
      comment: 'an adapter turns platform events into Inbound and writes Reply back: no database',
      from: { path: '^src/bots/' },
      to: { path: '^src/core/db/' },
    },
    {
      name: 'bots-and-admin-apart',
      severity: 'error',
      comment: 'the bots and the admin web meet only in the core and in main.ts',
      from: { path: '^src/(bots|admin)/' },
      to: { path: '^src/(admin|bots)/', pathNot: '^src/$1/' },
    },
    {
      name: 'migrations-frozen',
      severity: 'error',
      comment: 'a migration imports nothing from src/, so what it did never changes',
      from: { path: '^migrations/' },
      to: { path: '^src/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};
