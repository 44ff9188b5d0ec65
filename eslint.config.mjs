// ESLint for alived: `npm run lint` runs it (with prettier --check), `npm run lint -- --fix` fixes what it can.
// The rule set is ESLint's and typescript-eslint's recommended ones (no type-aware rules: they would more than double
// the run time, and tsc --strict already checks types), with the changes below, each for a reason.
// Formatting is prettier's (.prettierrc); neither recommended set has formatting rules, so the two do not overlap.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'native/', 'node_modules/'] },
  {
    // a disable comment that no longer disables anything is an error, and --fix removes it
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `any` is used on purpose where a container holds definitions of every config type at once:
      // `AlivedPlugin<any>[]`, `Registered<CheckerDefinition<any>>`, `Keyword<any, any>`. `unknown`
      // does not fit there (a definition's `create: (config: C) => ...` is not assignable to one taking `unknown`),
      // and the tests cast compiled blocks to `any` to read a field or two. tsc --strict stays the type check.
      '@typescript-eslint/no-explicit-any': 'off',
      // The project is CommonJS, and require() is how it loads lazily: IPVS, undici, nodemailer, mysql2 and
      // the native add-ons are loaded when a config first needs them (daemon start-up time), each typed
      // with `as typeof import(...)`. An import statement would load them at start.
      '@typescript-eslint/no-require-imports': 'off',
      // `const host = this` reaches the outer object from the methods of an object literal built inside
      // a method (the plugin API in core/plugin/host.ts, test harnesses); an arrow function cannot be
      // such a method. There is no `self = this` for callbacks in the code.
      '@typescript-eslint/no-this-alias': 'off',
      // tsc's noUnusedLocals already reports unused locals; this adds parameters and is told the
      // conventions: a leading underscore marks an unused name on purpose, and `{ time, ...rest }`
      // is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `cond && f()` and `a ? b() : c()` as statements are used deliberately in a few places
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // a `let` declared before the closures that read it and assigned once afterwards (a timer, an abort
      // listener) cannot be a const
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // prettier lays out the code and ends every statement with a semicolon, so no line break it
      // makes can change the meaning; it may break a long chain before `[i]`, which this rule flags
      // (eslint-config-prettier turns it off for the same reason)
      'no-unexpected-multiline': 'off',
    },
  },
  {
    // test/run.js and the fixtures' helpers: plain CommonJS scripts run by node
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
);
