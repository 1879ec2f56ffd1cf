import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { classParts, drawSyntheticImage, PATTERNS } from "../../lib/data/synthetic-scene";

test("class k wears pattern k and outline k mod 5, so each pattern names one class", () => {
  assert.deepEqual(classParts(0), { shape: "disc", pattern: "striped" });
  assert.deepEqual(classParts(6), { shape: "triangle", pattern: "dashed" });
  assert.equal(new Set(PATTERNS.map((_, k) => classParts(k).pattern)).size, PATTERNS.length);
});

test("drawSyntheticImage is a function of (seed, split, index, label, quality), and its JPEG has the size it reports", async () => {
  const a = await drawSyntheticImage(3, "val", 5, 1, 80);
  const again = await drawSyntheticImage(3, "val", 5, 1, 80);
  assert.ok(a.jpeg.equals(again.jpeg));
  const meta = await sharp(a.jpeg).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ["jpeg", a.width, a.height, 3]);
  const otherIndex = await drawSyntheticImage(3, "val", 6, 1, 80);
  const otherSplit = await drawSyntheticImage(3, "train", 5, 1, 80);
  assert.ok(!otherIndex.jpeg.equals(a.jpeg) && !otherSplit.jpeg.equals(a.jpeg));
});
