import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { hasCard, IMAGENET_NORMALIZATION, type ModelCard, readCard, writeCard } from "../../lib/model/card";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-card-");
after(() => tmp.cleanup());

test("a card round-trips, and a missing or incomplete card names the file and the fix", () => {
  const card: ModelCard = {
    variant: "torchvision",
    modelOptions: { numClasses: 2, inputSize: 224 },
    classes: ["a", "b"],
    input: IMAGENET_NORMALIZATION,
    source: "x.pth sha256:00",
  };
  assert.equal(hasCard(tmp.dir), false);
  assert.throws(
    () => readCard(tmp.dir),
    /card\.json is missing: .* is not a model folder; make one with `alexnet import-torch FILE\.pth --out/,
  );
  writeCard(tmp.dir, card);
  assert.equal(hasCard(tmp.dir), true);
  assert.deepEqual(readCard(tmp.dir), card);
  writeFileSync(path.join(tmp.dir, "card.json"), JSON.stringify({ ...card, input: { mean: [1, 2], scale: [1, 1, 1] } }));
  assert.throws(() => readCard(tmp.dir), /lacks variant, classes or input normalisation/);
});

test("IMAGENET_NORMALIZATION is torchvision's Normalize in pixel units: (x - mean) * scale = (x/255 - m) / s", () => {
  const m = [0.485, 0.456, 0.406];
  const s = [0.229, 0.224, 0.225];
  for (let c = 0; c < 3; c++) {
    for (const x of [0, 100, 255]) {
      const ours = (x - IMAGENET_NORMALIZATION.mean[c]) * IMAGENET_NORMALIZATION.scale[c];
      assert.ok(Math.abs(ours - (x / 255 - m[c]) / s[c]) < 1e-12);
    }
  }
});
