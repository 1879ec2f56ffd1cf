import assert from "node:assert/strict";
import { test } from "node:test";
import { IMAGENET_CLASS_COUNT, imagenetClasses, imagenetClassNames } from "../../lib/data/imagenet";

test("the 1000 ImageNet classes: sorted unique wnids, unique names, known anchors", () => {
  const classes = imagenetClasses();
  assert.equal(classes.length, IMAGENET_CLASS_COUNT);
  const wnids = classes.map((c) => c.wnid);
  assert.deepEqual([...wnids].sort(), wnids, "output order is the sorted wnid order");
  assert.equal(new Set(wnids).size, 1000);
  assert.equal(new Set(imagenetClassNames()).size, 1000, "short names are unique");
  // Anchors every ImageNet user knows: first, last, and the paper's Figure 4 classes.
  assert.deepEqual(classes[0], { index: 0, wnid: "n01440764", name: "tench", words: "tench, Tinca tinca" });
  assert.equal(classes[999].wnid, "n15075141");
  assert.equal(classes[999].name, "toilet tissue");
  assert.equal(classes[277].name, "red fox");
  assert.equal(classes[812].name, "space shuttle");
  for (const c of classes) assert.ok(c.words.toLowerCase().includes(c.name.split(" ")[0].toLowerCase()), `${c.index}: ${c.name} / ${c.words}`);
});
