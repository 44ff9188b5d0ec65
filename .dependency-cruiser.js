/**
 * alived's dependency rules, checked by `npm run lint:deps` on the
 * TypeScript sources (dependency-cruiser). `import()` and `require()` count
 * as imports: a cycle that holds only because one edge is deferred is still
 * a cycle. Type-only imports (`import type`) are left out of the cycle rule:
 * TypeScript erases them, so they load nothing and cannot make modules wait
 * on each other at run time; they still count for the layering rules.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'No module may reach itself through its imports (static, import() or require()).',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'core-not-to-plugins',
      severity: 'error',
      comment: 'The core knows no specific plugin: core/plugin/builtins.ts is the one list of built-in plugins, the only core file that names plugins/.',
      from: { path: '^core/', pathNot: '^core/plugin/builtins\\.ts$' },
      to: { path: '^plugins/' },
    },
    {
      name: 'plugin-not-to-other-plugin',
      severity: 'error',
      comment: "A plugin uses its own files, the SDK and the shared helper code (plugins/shared), never another plugin's files.",
      from: { path: '^plugins/([^/]+)/' },
      to: { path: '^plugins/', pathNot: ['^plugins/$1/', '^plugins/shared/'] },
    },
    {
      name: 'plugins-through-the-sdk',
      severity: 'error',
      comment: 'Built-in plugins reach the core only through core/sdk.ts, as a third-party plugin reaches it through alived.',
      from: { path: '^plugins/' },
      to: { path: '^core/', pathNot: '^core/sdk\\.ts$' },
    },
    {
      name: 'production-not-to-testing',
      severity: 'error',
      comment: 'The daemon never loads the testers: core/testing (alived/testing) is for tests only.',
      from: { path: '^(core|plugins)/', pathNot: '^core/testing/' },
      to: { path: '^core/testing/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // parse with the TypeScript compiler the project builds with
    parser: 'tsc',
  },
};
