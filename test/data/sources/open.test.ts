import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { isSourceFormat, limitPerClass, openSource, SOURCE_FORMATS } from "../../../lib/data/sources/index";
import type { DataSource, SourceRecord, SplitName } from "../../../lib/data/types";
import { tempDir } from "../../helpers/notebooks";
import { cifarBatch, idxBytes, idxImages, put, writeCifar10 } from "../../helpers/sources";

function fake(labels: number[]): SourceRecord[] {
  return labels.map((label, i) => ({ label, origin: `r${i}`, load: async () => ({ kind: "encoded", data: Buffer.alloc(0) }) }));
}
function names(source: DataSource, split: SplitName, root: string): [string, number][] {
  return (source.splits[split] ?? []).map((r) => [path.relative(root, r.origin), r.label]);
}

test("limitPerClass keeps the first n of each label in order", () => {
  const kept = limitPerClass(fake([0, 1, 0, 2, 1, 0, 1, 2, 0]), 2);
  assert.deepEqual(
    kept.map((r) => r.origin),
    ["r0", "r1", "r2", "r3", "r4", "r7"],
  );
  assert.equal(limitPerClass(fake([0, 0]), 5).length, 2);
});

test("isSourceFormat and SOURCE_FORMATS agree", () => {
  assert.deepEqual([...SOURCE_FORMATS], ["imagefolder", "cifar10", "cifar100", "idx", "synthetic"]);
  assert.equal(isSourceFormat("idx"), true);
  assert.equal(isSourceFormat("folder"), false);
});

test("openSource refuses unknown formats, misplaced options and bad limits in one line", async () => {
  await assert.rejects(openSource("mnist", "x"), { message: 'unknown --format "mnist"; use one of: imagefolder, cifar10, cifar100, idx, synthetic' });
  await assert.rejects(openSource("cifar10", "x", { valLabels: "v.csv" }), { message: "--val-labels applies only to --format imagefolder, not cifar10" });
  for (const bad of [0, -1, 1.5, NaN]) {
    await assert.rejects(openSource("imagefolder", "x", { limitPerClass: bad }), { message: `--limit-per-class must be a positive integer, got ${bad}` });
  }
  await assert.rejects(openSource("synthetic", "", { valSource: "v" }), /do not apply to --format synthetic/);
});

test("imagefolder: limitPerClass applies to each split", async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const f of ["a/1.png", "a/2.png", "a/3.png", "b/1.png"]) put(dir, `train/${f}`);
    for (const f of ["a/1.png", "a/2.png", "b/1.png", "b/2.png"]) put(dir, `val/${f}`);
    const source = await openSource("imagefolder", dir, { limitPerClass: 1 });
    assert.deepEqual(names(source, "train", dir), [
      ["train/a/1.png", 0],
      ["train/b/1.png", 1],
    ]);
    assert.deepEqual(names(source, "val", dir), [
      ["val/a/1.png", 0],
      ["val/b/1.png", 1],
    ]);
  } finally {
    cleanup();
  }
});

test("imagefolder --val-source: class folders relabelled by name, or a flat folder with --val-labels", async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const f of ["a/1.png", "b/1.png", "c/1.png"]) put(dir, `train/${f}`);
    put(dir, "other/c/9.png");
    put(dir, "other/a/8.png");
    const source = await openSource("imagefolder", path.join(dir, "train"), { valSource: path.join(dir, "other") });
    assert.deepEqual(names(source, "val", dir), [
      ["other/a/8.png", 0],
      ["other/c/9.png", 2],
    ]);

    put(dir, "flat/v1.png");
    put(dir, "flat/v2.png");
    const labels = put(dir, "labels.txt", "v1.png c\nv2.png 1\n");
    const flat = await openSource("imagefolder", path.join(dir, "train"), { valSource: path.join(dir, "flat"), valLabels: labels });
    assert.deepEqual(names(flat, "val", dir), [
      ["flat/v2.png", 1],
      ["flat/v1.png", 2],
    ]);

    put(dir, "other/zebra/1.png");
    await assert.rejects(openSource("imagefolder", path.join(dir, "train"), { valSource: path.join(dir, "other") }), /other\/zebra: val class "zebra" is not among the 3 train classes/);
  } finally {
    cleanup();
  }
});

test("imagefolder --val-source replaces ROOT/val, and its skipped entries are kept", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "root/train/a/1.png");
    put(dir, "root/val/a/2.png");
    put(dir, "mine/v1.png");
    put(dir, "mine/v2.png");
    const labels = put(dir, "l.txt", "v1.png a\n");
    const source = await openSource("imagefolder", path.join(dir, "root"), { valSource: path.join(dir, "mine"), valLabels: labels });
    assert.deepEqual(names(source, "val", dir), [["mine/v1.png", 0]]);
    assert.deepEqual(source.skipped, [{ origin: path.join(dir, "mine/v2.png"), reason: `no label in ${labels}` }]);
  } finally {
    cleanup();
  }
});

test("cifar10 --val-source takes the second folder's test batch; limitPerClass trims both splits", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeCifar10(path.join(dir, "main"), 4, 3);
    writeCifar10(path.join(dir, "second"), 1, 2);
    put(path.join(dir, "second"), "test_batch.bin", cifarBatch([[9], [9], [4]]));
    const source = await openSource("cifar10", path.join(dir, "main"), { valSource: path.join(dir, "second"), limitPerClass: 1 });
    assert.deepEqual(
      source.splits.train?.map((r) => r.label),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(
      source.splits.val?.map((r) => [path.relative(dir, r.origin), r.label]),
      [
        ["second/test_batch.bin#0", 9],
        ["second/test_batch.bin#2", 4],
      ],
    );
    const img = await (source.splits.val ?? [])[1].load();
    assert.equal(img.kind === "raw" && img.width, 32);
  } finally {
    cleanup();
  }
});

test("idx --val-source relabels by class id and refuses classes the train set lacks", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "main/train-images-idx3-ubyte", idxImages(3));
    put(dir, "main/train-labels-idx1-ubyte", idxBytes([3], [0, 1, 2]));
    put(dir, "val/train-images-idx3-ubyte", idxImages(2));
    put(dir, "val/train-labels-idx1-ubyte", idxBytes([2], [1, 1]));
    const source = await openSource("idx", path.join(dir, "main"), { valSource: path.join(dir, "val") });
    assert.deepEqual(
      source.splits.val?.map((r) => r.label),
      [1, 1],
    );
    put(dir, "val/train-labels-idx1-ubyte", idxBytes([2], [1, 3]));
    await assert.rejects(openSource("idx", path.join(dir, "main"), { valSource: path.join(dir, "val") }), {
      message: `${path.join(dir, "val")}: class "3" is not among the classes of ${path.join(dir, "main")} (0, 1, 2); --val-source must have the same classes`,
    });
  } finally {
    cleanup();
  }
});

test("synthetic: the generator's options pass through, limitPerClass applies", async () => {
  const source = await openSource("synthetic", "", { synthetic: { classes: 2, trainPerClass: 3, valPerClass: 2 }, limitPerClass: 2 });
  assert.equal(source.format, "synthetic");
  assert.equal(source.classes.length, 2);
  assert.equal(source.splits.train?.length, 4);
  assert.deepEqual(
    [0, 1].map((c) => source.splits.train?.filter((r) => r.label === c).length),
    [2, 2],
  );
  assert.equal(source.splits.val?.length, 4);
});

test("wrong paths surface the reader's error through openSource", async () => {
  await assert.rejects(openSource("cifar10", "/no/such/cifar"), /^Error: \/no\/such\/cifar: no such folder; --source must be the cifar-10-batches-bin folder/);
  await assert.rejects(openSource("imagefolder", "/no/such/images"), /^Error: \/no\/such\/images: no such folder/);
  await assert.rejects(openSource("idx", "/no/such/mnist"), /^Error: \/no\/such\/mnist: no such folder/);
});
