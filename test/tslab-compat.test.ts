// tslab compiles lib/ itself when a notebook imports it, with fixed options
// that are not strict (tsconfig.json is ignored) and its own TypeScript 5.0.
// Code that passes `tsc` strict can still fail there (boolean-tag narrowing,
// newer syntax), and tslab reports such errors without the file name. This
// test compiles lib/ the way tslab does and names the file.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
const ts = require("@tslab/typescript-for-tslab") as typeof import("typescript");

const root = path.resolve(__dirname, "..");

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path.join(dir, e.name)] : [],
  );
}

test("lib/ compiles under tslab's compiler options", () => {
  // Mirrors createConverter in tslab/src/converter.ts (v1.0.22).
  const options: import("typescript").CompilerOptions = {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts"],
    declaration: true,
    experimentalDecorators: true,
    resolveJsonModule: true,
    allowJs: true,
    checkJs: true,
    skipLibCheck: true,
    noEmit: true,
    rootDir: root,
  };
  const program = ts.createProgram(tsFiles(path.join(root, "lib")), options);
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file || d.start === undefined) return msg;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${path.relative(root, d.file.fileName)}:${line + 1}:${character + 1} ${msg}`;
  });
  assert.deepEqual(problems, [], `tslab would refuse these lines:\n${problems.join("\n")}`);
});

test("lib/ imports files, never folders: tslab resolves `./x` to x.js only, not x/index.js", () => {
  const problems: string[] = [];
  for (const file of tsFiles(path.join(root, "lib"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:from\s+|import\()\s*"(\.{1,2}\/[^"]+)"/g)) {
      const target = path.resolve(path.dirname(file), m[1]);
      let isDir = false;
      try {
        isDir = statSync(target).isDirectory();
      } catch {
        // not a folder (a file without its .ts extension)
      }
      if (isDir) problems.push(`${path.relative(root, file)} imports "${m[1]}", a folder; import "${m[1]}/index" instead`);
    }
  }
  assert.deepEqual(problems, []);
});

test('no lib/ file is named like a package the project loads: tslab resolves require("pkg") to a sibling pkg.ts first', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
  const bare = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.devDependencies }).filter((n) => !n.startsWith("@"));
  assert.ok(bare.includes("webgpu") && bare.includes("sharp"), "the bare package names are read from package.json");
  const clashes = tsFiles(path.join(root, "lib")).filter((f) => bare.includes(path.basename(f, ".ts")));
  assert.deepEqual(
    clashes.map((f) => path.relative(root, f)),
    [],
    "rename these files (lib/engine/webgpu.ts was one)",
  );
});
