import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { UsageError } from "../../lib/cli/args";
import { run } from "../../lib/cli/import-torch";
import { readCard } from "../../lib/model/card";
import { MODEL_FILE, WEIGHTS_FILE } from "../../lib/model/io";

const FIXTURES = path.join(__dirname, "..", "fixtures", "torch");
const tmp = mkdtempSync(path.join(os.tmpdir(), "alexnet-import-torch-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function quietly(argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(String(s));
  try {
    return { code: await run(argv), lines };
  } finally {
    console.log = log;
  }
}

test("import-torch writes model.json, weights.bin and card.json and says what it imported", async () => {
  process.env.ALEXNET_BACKEND ??= "wasm";
  const out = path.join(tmp, "model");
  const { code, lines } = await quietly([path.join(FIXTURES, "alexnet-tiny.safetensors"), "--out", out, "--json"]);
  assert.equal(code, 0);
  for (const f of [MODEL_FILE, WEIGHTS_FILE, "card.json"]) assert.ok(existsSync(path.join(out, f)), f);
  const card = readCard(out);
  assert.equal(card.variant, "torchvision");
  assert.equal(card.classes.length, 10);
  const text = lines.join("\n");
  assert.match(text, /imported alexnet-tiny\.safetensors \(safetensors format, sha256 [0-9a-f]{64}\)/);
  assert.match(text, /30,926 parameters/);
  assert.match(text, /class 0, class 1, class 2, \.\.\. \(10\)/);
  const summary = JSON.parse(lines[lines.length - 1]);
  assert.equal(summary.parameters, 30926);
  assert.equal(summary.out, out);
  assert.ok(readFileSync(path.join(out, WEIGHTS_FILE)).length === 30926 * 4);
});

test("import-torch: usage errors and refused files", async () => {
  await assert.rejects(quietly([]), (e: unknown) => e instanceof UsageError && /a checkpoint FILE is required/.test(e.message));
  await assert.rejects(
    quietly([path.join(FIXTURES, "alexnet-tiny.pth")]),
    (e: unknown) => e instanceof UsageError && /--out MODEL_DIR is required/.test(e.message),
  );
  const out = path.join(tmp, "evil");
  await assert.rejects(quietly([path.join(FIXTURES, "evil.pth"), "--out", out]), /refused to load/);
  assert.equal(existsSync(out), false, "nothing is written for a refused file");
});

test("import-torch writes only into an empty folder or one holding an import of the same file, unless --force", async () => {
  const out = path.join(tmp, "again");
  const tiny = path.join(FIXTURES, "alexnet-tiny.safetensors");
  assert.equal((await quietly([tiny, "--out", out])).code, 0);
  const weights = readFileSync(path.join(out, WEIGHTS_FILE));
  mkdirSync(path.join(out, "eval")); // what alexnet eval MODEL_DIR writes
  assert.equal((await quietly([tiny, "--out", out])).code, 0, "the same file again is the same model, evaluated or not");
  await assert.rejects(quietly([path.join(FIXTURES, "alexnet-tiny.pth"), "--out", out]), (e: Error) => {
    assert.equal(e.name, "FolderInUseError");
    assert.match(
      e.message,
      /already holds a model \(card\.json, eval, model\.json, weights\.bin\); import the same file into it again, choose another folder, or pass --force to replace it/,
    );
    return true;
  });
  assert.deepEqual(readFileSync(path.join(out, WEIGHTS_FILE)), weights, "the refused import wrote nothing");
  assert.equal((await quietly([path.join(FIXTURES, "alexnet-tiny.pth"), "--out", out, "--force"])).code, 0);
  assert.match(readCard(out).source, /^alexnet-tiny\.pth sha256:/);

  const foreign = path.join(tmp, "foreign");
  mkdirSync(foreign);
  writeFileSync(path.join(foreign, "notes.txt"), "mine");
  const cli = spawnSync(process.execPath, [path.join(__dirname, "..", "..", "bin", "alexnet.js"), "import-torch", tiny, "--out", foreign], {
    encoding: "utf8",
    env: { ...process.env, ALEXNET_BACKEND: "wasm" },
  });
  assert.equal(cli.status, 2, "a refusal exits 2");
  assert.match(cli.stderr, /holds files that are not a model's \(notes\.txt\)/);
  assert.equal(existsSync(path.join(foreign, MODEL_FILE)), false);
});
