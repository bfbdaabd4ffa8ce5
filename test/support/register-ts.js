// Lets a child process run the TypeScript sources directly, compiled by swc with the same options as jest
// (decorator metadata included), so tests that need a separate gateway process do not depend on `npm run build`.
const { transformSync } = require("@swc/core");
const Module = require("node:module");
const fs = require("node:fs");

const options = {
  jsc: {
    parser: { syntax: "typescript", decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: "es2022",
  },
  module: { type: "commonjs" },
  sourceMaps: "inline",
};

Module._extensions[".ts"] = function compile(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, "utf8"), { ...options, filename });
  module._compile(code, filename);
};
