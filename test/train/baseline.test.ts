import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { prepareDataset } from "../../lib/data/prepare";
import { Random } from "../../lib/data/random";
import { openDataset } from "../../lib/data/shards";
import type { DataSource, SourceRecord } from "../../lib/data/types";
import { selectEngine } from "../../lib/engine/select";
import { boxDownsample, linearPixelClassifier, nearestClassMean } from "../../lib/train/baseline";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-baseline-");
after(tmp.cleanup);
const SIDE = 8;

/** 3 classes of 8x8 images: "colour" gives each class its own colour plus noise; "noise" makes pixels independent of the label. */
function source(kind: "colour" | "noise", perClass: number): DataSource {
  const colours = [
    [200, 30, 30],
    [30, 200, 30],
    [30, 30, 200],
  ];
  const records = (split: "train" | "val"): SourceRecord[] =>
    Array.from({ length: 3 * perClass }, (_, i) => {
      const label = i % 3;
      const r = new Random(1000 * (split === "train" ? 1 : 2) + i);
      const data = new Uint8Array(SIDE * SIDE * 3);
      for (let p = 0; p < data.length; p++)
        data[p] = kind === "colour" ? Math.max(0, Math.min(255, colours[label][p % 3] + r.int(41) - 20)) : r.int(256);
      return {
        label,
        origin: `${split}/${i}`,
        load: async () => ({ kind: "raw" as const, data, width: SIDE, height: SIDE, channels: 3 as const }),
      };
    });
  return { format: "test", classes: ["a", "b", "c"], splits: { train: records("train"), val: records("val") } };
}

const dirs = { colour: path.join(tmp.dir, "colour"), noise: path.join(tmp.dir, "noise") };
before(async () => {
  await selectEngine({ force: "cpu" });
  await prepareDataset({ source: source("colour", 20), out: dirs.colour, size: SIDE, progress: "silent" });
  await prepareDataset({ source: source("noise", 20), out: dirs.noise, size: SIDE, progress: "silent" });
});

test("boxDownsample averages each output pixel's block, per channel", () => {
  // 4x4, 1 channel, values 0..15 row by row: the 2x2 blocks average to 2.5, 4.5, 10.5, 12.5.
  const px = Uint8Array.from({ length: 16 }, (_, i) => i);
  assert.deepEqual([...boxDownsample(px, 4, 4, 1, 2)], [2.5, 4.5, 10.5, 12.5]);
  // 3 channels, 2x2 to 1x1: each channel's mean.
  assert.deepEqual([...boxDownsample(Uint8Array.from([0, 10, 20, 2, 12, 22, 4, 14, 24, 6, 16, 26]), 2, 2, 3, 1)], [3, 13, 23]);
  assert.throws(() => boxDownsample(px, 4, 4, 1, 5), /side must be an integer from 1 to 4/);
});

test("nearest class mean: no error where each class has its colour, about chance where pixels say nothing", async () => {
  const easy = openDataset(dirs.colour);
  const hard = openDataset(dirs.noise);
  try {
    const e = await nearestClassMean(easy);
    assert.equal(e.valError, 0);
    assert.equal(e.trainError, 0);
    assert.equal(e.valCount, 60);
    assert.ok(Math.abs(e.chance - 2 / 3) < 1e-12);
    const h = await nearestClassMean(hard);
    assert.ok(h.valError > 0.45, `val error ${h.valError} on labels the pixels do not carry`);
  } finally {
    await easy.close();
    await hard.close();
  }
});

test("linear classifier on raw pixels separates colours, and not noise", async () => {
  const easy = openDataset(dirs.colour);
  const hard = openDataset(dirs.noise);
  try {
    const e = await linearPixelClassifier(easy, { side: 4, epochs: 15, learningRate: 0.01 });
    assert.ok(e.valError <= 0.05, `val error ${e.valError}`);
    assert.match(e.input, /4x4x3 pixels/);
    const h = await linearPixelClassifier(hard, { side: 4, epochs: 15, learningRate: 0.01 });
    assert.ok(h.valError > 0.4, `val error ${h.valError} on labels the pixels do not carry`);
  } finally {
    await easy.close();
    await hard.close();
  }
});
