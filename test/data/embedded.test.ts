import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { EMBEDDED_SETS, cifarOrEmbedded, embeddedDataset, embeddedDatasetDir, projectRoot } from "../../lib/data/embedded";
import { writeCifar10 } from "../helpers/sources";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-embedded-");
after(tmp.cleanup);

test("projectRoot is the folder holding package.json, also through the notebooks/lib link", () => {
  assert.ok(existsSync(path.join(projectRoot(), "package.json")));
  assert.ok(existsSync(path.join(projectRoot(), "notebooks", "lib")));
});

test("each profile has its own folder under data/prepared, and a typo is refused", () => {
  assert.equal(embeddedDatasetDir("smoke", "/r"), path.join("/r", "data", "prepared", "synthetic-smoke"));
  assert.throws(() => embeddedDatasetDir("smok"), /unknown profile 'smok'/);
  assert.ok(EMBEDDED_SETS.smoke.trainPerClass < EMBEDDED_SETS.laptop.trainPerClass);
  assert.ok(EMBEDDED_SETS.smoke.classes >= 10, "at least 10 classes in every profile");
});

test("embeddedDataset prepares once, then reopens without preparing", async () => {
  mkdirSync(path.join(tmp.dir, "data"), { recursive: true });
  const first = await embeddedDataset("smoke", { root: tmp.dir, progress: "silent" });
  try {
    assert.ok(first.report, "the first call prepares");
    const s = EMBEDDED_SETS.smoke;
    assert.equal(first.dataset.split("train").length, s.classes * s.trainPerClass);
    assert.equal(first.dataset.split("val").length, s.classes * s.valPerClass);
    assert.equal(first.dataset.statistics().images, s.classes * s.trainPerClass);
  } finally {
    await first.dataset.close();
  }
  const second = await embeddedDataset("smoke", { root: tmp.dir, progress: "silent" });
  assert.equal(second.report, undefined, "the second call only opens");
  await second.dataset.close();
});

test("a smaller record size gets its own folder and records of that size", async () => {
  assert.equal(embeddedDatasetDir("laptop", "/r", 32), path.join("/r", "data", "prepared", "synthetic-laptop-32"));
  const small = await embeddedDataset("smoke", { root: tmp.dir, size: 32, progress: "silent" });
  try {
    assert.deepEqual(small.dataset.recordShape, [32, 32, 3]);
    assert.ok(small.dir.endsWith("synthetic-smoke-32"));
  } finally {
    await small.dataset.close();
  }
});

test("cifarOrEmbedded uses CIFAR-10 from data/ when present, the embedded set otherwise", async () => {
  const without = await cifarOrEmbedded("smoke", { root: tmp.dir, size: 32, progress: "silent" });
  assert.equal(without.name, "the embedded dataset");
  await without.dataset.close();
  const withCifar = path.join(tmp.dir, "with");
  writeCifar10(path.join(withCifar, "data", "cifar-10-batches-bin"), 2, 3);
  const cifar = await cifarOrEmbedded("smoke", { root: withCifar, size: 32, progress: "silent" });
  try {
    assert.equal(cifar.name, "CIFAR-10");
    assert.equal(cifar.dataset.split("train").length, 10);
    assert.equal(cifar.dataset.split("val").length, 3);
    assert.equal(cifar.dataset.classes[0], "airplane");
  } finally {
    await cifar.dataset.close();
  }
});
