// ESLint for the portal's modules (src/extnet/engine/portal/static/js): plain ES modules run by the browser as they
// are, so mistakes a build would catch are caught here (tests/portal/test_portal_lint.py runs it).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: { ecmaVersion: 2023, sourceType: "module", globals: globals.browser },
    rules: { "no-unused-vars": ["error", { args: "none" }], eqeqeq: "error", "prefer-const": "error" },
  },
];
