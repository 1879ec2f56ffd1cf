import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { checkOutputFolder } from "../lib/folders";
import { tempDir } from "./helpers/notebooks";

const tmp = tempDir("alexnet-folders-");
after(tmp.cleanup);
const rule = { kind: "a model", own: ["model.json", "weights.bin", "card.json"] };

test("an empty or missing folder takes any output", () => {
  assert.deepEqual(checkOutputFolder(path.join(tmp.dir, "missing"), rule), { holds: "empty", found: [] });
  mkdirSync(path.join(tmp.dir, "empty"));
  assert.equal(checkOutputFolder(path.join(tmp.dir, "empty"), rule).holds, "empty");
});

test("foreign files are refused, listed, unless force; own output only when continuing or forced", () => {
  const dir = path.join(tmp.dir, "mixed");
  mkdirSync(dir);
  writeFileSync(path.join(dir, "model.json"), "{}");
  assert.throws(
    () => checkOutputFolder(dir, rule),
    (err: Error & { found?: string[] }) => {
      assert.equal(err.name, "FolderInUseError");
      assert.match(err.message, /already holds a model \(model\.json\); choose another folder, or pass --force to replace it/);
      assert.deepEqual(err.found, ["model.json"]);
      return true;
    },
  );
  assert.throws(
    () => checkOutputFolder(dir, { ...rule, continueHint: "import the same file again" }),
    /import the same file again, choose another folder/,
  );
  assert.equal(checkOutputFolder(dir, { ...rule, continuing: true }).holds, "own");
  assert.equal(checkOutputFolder(dir, { ...rule, force: true }).holds, "own");
  writeFileSync(path.join(dir, "metrics.jsonl"), "");
  assert.throws(
    () => checkOutputFolder(dir, { ...rule, continuing: true }),
    /holds files that are not a model's \(metrics\.jsonl\); choose an empty folder, or pass --force to write beside them/,
  );
  assert.deepEqual(checkOutputFolder(dir, { ...rule, force: true }), { holds: "foreign", found: ["metrics.jsonl", "model.json"] });
});

test("a long list is cut after eight names; a file where a folder should be is refused", () => {
  const dir = path.join(tmp.dir, "many");
  mkdirSync(dir);
  for (let i = 0; i < 11; i++) writeFileSync(path.join(dir, `f${String(i).padStart(2, "0")}`), "");
  assert.throws(() => checkOutputFolder(dir, rule), /f00, f01, f02, f03, f04, f05, f06, f07 and 3 more/);
  const file = path.join(tmp.dir, "a-file");
  writeFileSync(file, "");
  assert.throws(() => checkOutputFolder(file, rule), /is a file, not a folder/);
});
