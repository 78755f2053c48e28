// ESLint for the browser code in static/js (ES modules): `make lint` runs it.
import js from "@eslint/js";
import globals from "globals";

export default [
  // Installed and generated code: npm's and pip's packages, collected static files.
  { ignores: ["node_modules/", "static/vendor/", ".venv/", "var/", "test-artifacts/"] },
  js.configs.recommended,
  {
    files: ["static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      globals: globals.browser,
    },
    rules: {
      // `const { dropped, ...kept } = object` is how a field is left out of a copy.
      "no-unused-vars": ["error", { ignoreRestSiblings: true }],
    },
  },
  {
    files: ["eslint.config.mjs"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
