import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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
  await assert.rejects(quietly([path.join(FIXTURES, "alexnet-tiny.pth")]), (e: unknown) => e instanceof UsageError && /--out MODEL_DIR is required/.test(e.message));
  const out = path.join(tmp, "evil");
  await assert.rejects(quietly([path.join(FIXTURES, "evil.pth"), "--out", out]), /refused to load/);
  assert.equal(existsSync(out), false, "nothing is written for a refused file");
});
