import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { BatchMaker, outputShape, RecordFiles, viewsPerImage } from "../../lib/data/batches";
import type { BatchRecipe } from "../../lib/data/batches";
import { Random } from "../../lib/data/random";
import { finalizeDataset, ShardWriter } from "../../lib/data/shard-writer";
import { openDataset } from "../../lib/data/shards";

const SHAPE: [number, number, number] = [12, 12, 3];
let dir = "";

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "alexnet-batches-"));
  const r = new Random(4);
  let n = 0;
  for (const [s, count] of [4, 3].entries()) {
    const writer = await ShardWriter.open(dir, "train", s, SHAPE, { stats: true, preprocessing: { size: 12 } });
    for (let i = 0; i < count; i++, n++) await writer.add(n % 2, Uint8Array.from({ length: 12 * 12 * 3 }, () => r.int(256)), `r${n}`);
    await writer.finish();
  }
  await finalizeDataset(dir, { classes: ["x", "y"], preprocessing: { size: 12 } });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function recipe(overrides: Partial<BatchRecipe> = {}): BatchRecipe {
  const ds = openDataset(dir);
  return {
    dir,
    split: "train",
    shards: ds.manifest.splits.train!.shards.map((s) => ({ file: s.file, records: s.records })),
    recordShape: SHAPE,
    recordBytes: ds.recordBytes,
    classes: ds.classes.length,
    augment: "train",
    crop: 8,
    seed: 3,
    mean: ds.meanImage(),
    lighting: { alphaStd: 0.1, basis: { eigenvalues: [9, 4, 1], eigenvectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] } },
    ...overrides,
  };
}

test("RecordFiles reads each record's label and pixels, across shard boundaries, into the caller's buffer", async () => {
  const ds = openDataset(dir);
  const files = new RecordFiles(dir, recipe().shards, ds.recordBytes);
  assert.equal(files.length, 7);
  const into = new Uint8Array(ds.recordBytes + 5);
  for (const i of [0, 3, 4, 6, 2]) {
    const rec = await ds.split("train").readRecord(i);
    assert.equal(files.read(i, into, 5), rec.label);
    assert.deepEqual(into.subarray(9), rec.pixels);
  }
  assert.throws(() => files.read(7, into), /record 7 is outside the split, which has 7 records \(0..6\)/);
  files.close();
  await ds.close();
});

test("outputShape and viewsPerImage follow the augmentation mode", () => {
  assert.deepEqual(outputShape({ augment: "train", crop: 8, recordShape: SHAPE }), [8, 8, 3]);
  assert.deepEqual(outputShape({ augment: "none", crop: 8, recordShape: SHAPE }), [12, 12, 3]);
  assert.throws(() => outputShape({ augment: "center", crop: 13, recordShape: SHAPE }), /crop size 13 is larger than the 12x12 image/);
  assert.deepEqual([viewsPerImage("train"), viewsPerImage("center"), viewsPerImage("ten-crop"), viewsPerImage("none")], [1, 1, 10, 1]);
});

test("BatchMaker: a record's output depends on (seed, epoch, index) only, not on its batch or position", () => {
  const maker = new BatchMaker(recipe());
  const size = 8 * 8 * 3;
  const whole = maker.make(2, [5, 0, 6, 3]);
  assert.equal(whole.images.length, maker.batchLength(4));
  assert.deepEqual(Array.from(whole.labels), [1, 0, 0, 1]);
  const alone = maker.make(2, [6]);
  assert.deepEqual(alone.images, whole.images.subarray(2 * size, 3 * size));
  assert.notDeepEqual(maker.make(3, [6]).images, alone.images, "another epoch, other draws");
  const other = new BatchMaker(recipe({ seed: 4 }));
  assert.notDeepEqual(other.make(2, [6]).images, alone.images, "another seed, other draws");
  // Into a caller's buffer, which must have exactly the batch's size.
  const out = new Float32Array(maker.batchLength(4));
  assert.equal(maker.make(2, [5, 0, 6, 3], out).images, out);
  assert.deepEqual(out, whole.images);
  assert.throws(() => maker.make(2, [5, 0], out), /holds 768 values, a batch of 2 needs 384/);
  const ten = new BatchMaker(recipe({ augment: "ten-crop" }));
  assert.equal(ten.make(0, [1, 2]).images.length, 2 * 10 * size);
  maker.close();
  other.close();
  ten.close();
});

test("BatchMaker's WebAssembly path makes the same bits as its JavaScript path, in every mode and mean", () => {
  const ds = openDataset(dir);
  const channelMean = Float32Array.from(ds.statistics().channelMean);
  void ds.close();
  const cases: Partial<BatchRecipe>[] = [
    {},
    { augment: "train-center" },
    { augment: "center", lighting: undefined },
    { augment: "ten-crop", lighting: undefined, mean: channelMean },
    { augment: "none", lighting: undefined, mean: undefined },
    { crop: 7 }, // rows of 21 values: the twelve-at-a-time loop leaves a remainder
  ];
  for (const c of cases) {
    const fast = new BatchMaker(recipe(c));
    const slow = new BatchMaker(recipe(c), false);
    for (const epoch of [0, 1]) {
      const a = fast.make(epoch, [6, 0, 3, 4, 1]);
      const b = slow.make(epoch, [6, 0, 3, 4, 1]);
      assert.deepEqual(a.labels, b.labels);
      assert.deepEqual(new Uint32Array(a.images.buffer), new Uint32Array(b.images.buffer), JSON.stringify(c));
    }
    fast.close();
    slow.close();
  }
});
