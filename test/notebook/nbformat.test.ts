import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  NotebookFormatError,
  parseNotebook,
  readNotebook,
  serialiseNotebook,
  splitLines,
  writeNotebook,
} from "../../lib/notebook/nbformat";
import { tempDir } from "../helpers/notebooks";

test("splitLines keeps newlines and the last partial line", () => {
  assert.deepEqual(splitLines("a\nb\n"), ["a\n", "b\n"]);
  assert.deepEqual(splitLines("a\nb"), ["a\n", "b"]);
  assert.deepEqual(splitLines(""), []);
});

test("parseNotebook gives 4.4 cells ids and upgrades to 4.5; keeps existing ids", () => {
  const nb = parseNotebook(
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 4,
      metadata: {},
      cells: [
        { cell_type: "code", source: "1", metadata: {}, outputs: [] },
        { cell_type: "markdown", id: "keep-me", source: "x", metadata: {} },
      ],
    }),
  );
  assert.equal(nb.nbformat_minor, 5);
  assert.match(nb.cells[0].id, /^[0-9a-f]{8}$/);
  assert.equal(nb.cells[1].id, "keep-me");
});

test("parseNotebook names the file and the fix on bad input", () => {
  assert.throws(
    () => parseNotebook("{", "x.ipynb"),
    (e: Error) => e instanceof NotebookFormatError && /x\.ipynb is not valid JSON/.test(e.message),
  );
  assert.throws(() => parseNotebook('{"nbformat":3,"cells":[]}', "old.ipynb"), /old\.ipynb is not an nbformat 4 notebook/);
  assert.throws(() => readNotebook("/nonexistent/n.ipynb"), /no such notebook/);
});

test("serialise stores sources and streams as line lists and drops transient display ids", () => {
  const nb = parseNotebook(
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [{ cell_type: "code", id: "a", source: "x\ny", metadata: {}, outputs: [], execution_count: 1 }],
    }),
  );
  const cell = nb.cells[0];
  if (cell.cell_type !== "code") throw new Error("expected code");
  cell.outputs.push(
    { output_type: "stream", name: "stdout", text: "1\n2\n" },
    { output_type: "display_data", data: { "text/plain": "d" }, metadata: {}, transient: { display_id: "q" } },
  );
  const json = JSON.parse(serialiseNotebook(nb));
  assert.deepEqual(json.cells[0].source, ["x\n", "y"]);
  assert.deepEqual(json.cells[0].outputs[0].text, ["1\n", "2\n"]);
  assert.equal(json.cells[0].outputs[1].transient, undefined);
});

test("writeNotebook writes atomically and the result parses back", () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, "sub", "n.ipynb");
    const nb = parseNotebook(JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }));
    writeNotebook(file, nb);
    assert.deepEqual(parseNotebook(readFileSync(file, "utf8")).cells, []);
  } finally {
    cleanup();
  }
});
