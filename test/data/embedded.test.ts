import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { EMBEDDED_SETS, embeddedDataset, embeddedDatasetDir, embeddedImagesDir, experimentDataset, projectRoot } from "../../lib/data/embedded";
import { SYNTHETIC_DESIGN } from "../../lib/data/synthetic";
import { idxBytes, writeCifar10 } from "../helpers/sources";
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

/** A Fashion-MNIST-shaped IDX folder: 10 classes, `perClass` 4x4 images per split, class k's pixels all 20k. */
function writeFashion(dir: string, perClass: number): void {
  mkdirSync(dir, { recursive: true });
  for (const [prefix, n] of [["train", perClass * 10], ["t10k", perClass * 10]] as const) {
    const labels = Array.from({ length: n }, (_, i) => i % 10);
    writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), idxBytes([n, 4, 4], labels.flatMap((l) => new Array(16).fill(20 * l))));
    writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), idxBytes([n], labels));
  }
}

test("experimentDataset: CIFAR-10 first, then Fashion-MNIST where colour does not matter, then the embedded set", async () => {
  const root = path.join(tmp.dir, "choice");
  const fashionDir = path.join(tmp.dir, "fashion-elsewhere");
  writeFashion(fashionDir, 3);
  const opts = { root, size: 32, progress: "silent" as const, fashionMnistFolders: [fashionDir], limitPerClass: 2 };

  // Nothing real: the embedded set, and the reason names what was missing and how to get it.
  mkdirSync(path.join(root, "data"), { recursive: true });
  const none = await experimentDataset("smoke", { ...opts, fashionMnistFolders: [path.join(tmp.dir, "nowhere")], colour: false });
  assert.equal(none.name, "the embedded dataset");
  assert.match(none.why, /apt-get install dataset-fashion-mnist/);
  await none.dataset.close();

  // Fashion-MNIST is found, but a colour experiment still gets the embedded set.
  const colour = await experimentDataset("smoke", { ...opts, colour: true });
  assert.equal(colour.name, "the embedded dataset");
  await colour.dataset.close();
  const fashion = await experimentDataset("smoke", { ...opts, colour: false });
  try {
    assert.equal(fashion.name, "Fashion-MNIST");
    assert.equal(fashion.from, fashionDir);
    assert.equal(fashion.dataset.split("train").length, 20, "limitPerClass 2 of 10 classes");
    assert.equal(fashion.dataset.split("val").length, 20);
    assert.deepEqual(fashion.dataset.recordShape, [32, 32, 3]);
    assert.equal(fashion.dataset.manifest.classNames?.[9], "Ankle boot");
    const rec = await fashion.dataset.split("train").readRecord(3);
    assert.equal(rec.label, 3);
    assert.equal(rec.pixels[0], 60, "class 3's pixels are 60 in every channel");
  } finally {
    await fashion.dataset.close();
  }

  // CIFAR-10 under data/ wins over both.
  writeCifar10(path.join(root, "data", "cifar-10-batches-bin"), 2, 3);
  const cifar = await experimentDataset("smoke", { ...opts, colour: false });
  try {
    assert.equal(cifar.name, "CIFAR-10");
    assert.equal(cifar.dataset.classes[0], "airplane");
    assert.ok(cifar.dataset.split("train").length <= 20);
  } finally {
    await cifar.dataset.close();
  }
});

test("a prepared folder of another design is prepared again, and the images are drawn once for every size", async () => {
  const root = path.join(tmp.dir, "stale");
  mkdirSync(path.join(root, "data"), { recursive: true });
  const first = await embeddedDataset("smoke", { root, size: 24, progress: "silent" });
  await first.dataset.close();
  const images = embeddedImagesDir("smoke", root);
  const s = EMBEDDED_SETS.smoke;
  assert.equal(readdirSync(path.join(images, "train")).length, s.classes * s.trainPerClass, "one cached JPEG per training image");
  // Another size is prepared from the cached JPEGs.
  const other = await embeddedDataset("smoke", { root, size: 16, progress: "silent" });
  assert.ok(other.report);
  await other.dataset.close();
  // Pretend the 24 folder was made by design 1: it is replaced, not trained on.
  const manifestFile = path.join(embeddedDatasetDir("smoke", root, 24), "manifest.json");
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8"));
  manifest.preprocessing.source.design = SYNTHETIC_DESIGN - 1;
  writeFileSync(manifestFile, JSON.stringify(manifest));
  const again = await embeddedDataset("smoke", { root, size: 24, progress: "silent" });
  try {
    assert.ok(again.replaced?.includes(`"design":${SYNTHETIC_DESIGN - 1}`), `replaced: ${again.replaced}`);
    assert.ok(again.report, "prepared again");
    assert.equal(again.dataset.manifest.preprocessing.source && (again.dataset.manifest.preprocessing.source as { design: number }).design, SYNTHETIC_DESIGN);
  } finally {
    await again.dataset.close();
  }
});
