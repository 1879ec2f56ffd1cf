// The linter: typescript-eslint's recommended rules, and size limits that keep
// a function readable top to bottom and a module to one job (issue 15).
// Run with `npm run lint` (CI runs it before the tests).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "runs/", "data/", "notebooks/lib/", "test/fixtures/", ".tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a value left out on purpose (a destructured field dropped, an interface's argument unused).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      // Tests match terminal output whose columns are aligned with runs of spaces.
      "no-regex-spaces": "off",
      // A callback made before the value exists may read it later (the loader's pool): that is not a constant.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // bin/ holds the CommonJS entry points node starts before ts-node is loaded.
    files: ["bin/**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { require: "readonly", module: "writable", process: "readonly", console: "readonly", __dirname: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Tests load modules by name to swap what a module sees (the engine probe, tslab's display hook).
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Tests are exempt: an end-to-end test reads best as one scenario, arrangement and all.
    files: ["lib/**/*.ts", "bench/**/*.ts", "bin/**/*.js"],
    rules: {
      "max-lines-per-function": ["error", { max: 100, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  {
    files: ["lib/**/*.ts"],
    rules: {
      "max-lines": ["error", { max: 500, skipBlankLines: true, skipComments: true }],
    },
  },
);
