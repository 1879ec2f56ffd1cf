// Notebooks explain and show; lib/ does the work. A code cell that needs more
// than a screenful of logic is doing lib/'s job (or two things at once): move
// the logic into lib/ with tests, or split the cell with a sentence between
// that says what the next one answers. Import cells are exempt.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";

const MAX_LOGIC_LINES = 15;
const notebooksDir = path.resolve(__dirname, "..", "notebooks");

/** Lines of logic: not blank, not a comment, not an import. */
function logicLines(source: string): number {
  return source.split("\n").filter((l) => {
    const t = l.trim();
    return t !== "" && !t.startsWith("//") && !t.startsWith("import ");
  }).length;
}

/** Every code cell over the limit, as "notebook cell N: M lines (first line)". */
function overLimit(file: string): string[] {
  const nb = JSON.parse(readFileSync(file, "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
  return nb.cells.flatMap((c, i) => {
    if (c.cell_type !== "code") return [];
    const source = Array.isArray(c.source) ? c.source.join("") : c.source;
    const n = logicLines(source);
    return n > MAX_LOGIC_LINES ? [`${path.basename(file)} cell ${i}: ${n} lines of logic (${source.split("\n")[0].slice(0, 60)})`] : [];
  });
}

test("logicLines counts code, not blanks, comments or imports", () => {
  assert.equal(logicLines('import { a } from "./lib/a";\n\n// why\nconst b = a(1);\nconsole.log(b);'), 2);
  assert.equal(logicLines("  // indented comment\n   \nx;"), 1);
});

test(`no notebook code cell has more than ${MAX_LOGIC_LINES} lines of logic`, () => {
  const files = readdirSync(notebooksDir)
    .filter((f) => f.endsWith(".ipynb"))
    .sort();
  assert.ok(files.length > 0, `no notebooks found in ${notebooksDir}`);
  const over = files.flatMap((f) => overLimit(path.join(notebooksDir, f)));
  assert.deepEqual(over, [], `cells over the limit (move the logic into lib/ or split the cell):\n${over.join("\n")}`);
});
