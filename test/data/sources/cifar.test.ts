import assert from "node:assert/strict";
import { mkdirSync, truncateSync, unlinkSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { CIFAR10_CLASSES, openCifar10, openCifar100, planarToHwc } from "../../../lib/data/sources/cifar10";
import type { SourceImage } from "../../../lib/data/types";
import { tempDir } from "../../helpers/notebooks";
import { cifarBatch, cifarPixel, put, writeCifar10 } from "../../helpers/sources";

/** Checks every pixel of a loaded record against cifarPixel(seed, c, y, x) in HWC order. */
function assertCifarImage(img: SourceImage, seed: number): void {
  assert.ok(img.kind === "raw");
  assert.deepEqual([img.width, img.height, img.channels, img.data.length], [32, 32, 3, 3072]);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++)
      for (let c = 0; c < 3; c++) {
        const got: number = img.data[(y * 32 + x) * 3 + c];
        if (got !== cifarPixel(seed, c, y, x)) assert.fail(`pixel y=${y} x=${x} c=${c}: got ${got}, want ${cifarPixel(seed, c, y, x)}`);
      }
}

test("planarToHwc interleaves R, G, B planes pixel by pixel", () => {
  const planar = Uint8Array.from([1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24]);
  assert.deepEqual([...planarToHwc(planar, 2)], [1, 11, 21, 2, 12, 22, 3, 13, 23, 4, 14, 24]);
  assert.throws(() => planarToHwc(new Uint8Array(5), 2), /expected 12 bytes for 2x2x3, got 5/);
});

test("CIFAR-10: train from data_batch_1..5, val from test_batch, standard names, pixels planar -> HWC", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bin = path.join(dir, "cifar-10-batches-bin");
    writeCifar10(bin);
    for (const given of [dir, bin]) {
      const source = await openCifar10(given);
      assert.equal(source.format, "cifar10");
      assert.deepEqual(source.classes, [...CIFAR10_CLASSES]);
      const train = source.splits.train ?? [];
      assert.deepEqual(
        train.map((r) => r.label),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      assert.equal(train[3].origin, `${path.join(bin, "data_batch_2.bin")}#1`);
      assert.deepEqual(
        source.splits.val?.map((r) => r.label),
        [5, 6, 7],
      );
      assertCifarImage(await train[3].load(), 3);
      assertCifarImage(await train[9].load(), 9);
      assertCifarImage(await (source.splits.val ?? [])[2].load(), 1002);
    }
  } finally {
    cleanup();
  }
});

test("CIFAR-10: batches.meta.txt or --class-names give the names", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeCifar10(dir);
    const names = Array.from({ length: 10 }, (_, i) => `thing${i}`);
    put(dir, "batches.meta.txt", `${names.join("\n")}\n\n`);
    assert.deepEqual((await openCifar10(dir)).classes, names);
    const mine = put(dir, "mine.txt", names.map((n) => n.toUpperCase()).join("\n"));
    assert.deepEqual((await openCifar10(dir, { classNames: mine })).classes, names.map((n) => n.toUpperCase()));
    const short = put(dir, "short.txt", "a\nb\n");
    await assert.rejects(openCifar10(dir, { classNames: short }), {
      message: `${path.join(dir, "data_batch_2.bin")}: record 0 has label 2, but there are 2 classes; the file is not CIFAR-10 binary or the class-name list is short`,
    });
  } finally {
    cleanup();
  }
});

test("CIFAR-10: labels are read across listing chunks (more than 1024 records in a file)", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeCifar10(dir);
    const n = 2050;
    put(dir, "data_batch_4.bin", cifarBatch(Array.from({ length: n }, (_, i) => [(i * 3) % 10]), (i) => i));
    const train = (await openCifar10(dir)).splits.train ?? [];
    assert.equal(train.length, 4 * 2 + n);
    const batch4 = train.slice(6, 6 + n);
    assert.deepEqual(
      batch4.map((r) => r.label),
      Array.from({ length: n }, (_, i) => (i * 3) % 10),
    );
    assert.ok(batch4[2049].origin.endsWith("data_batch_4.bin#2049"));
    assertCifarImage(await batch4[2049].load(), 2049);
    assertCifarImage(await batch4[1024].load(), 1024);
  } finally {
    cleanup();
  }
});

test("CIFAR-10: wrong path, missing batches, python version and bad sizes are named", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const expected = "--source must be the cifar-10-batches-bin folder (from cifar-10-binary.tar.gz) or the folder holding it";
    await assert.rejects(openCifar10(path.join(dir, "nope")), { message: `${path.join(dir, "nope")}: no such folder; ${expected}` });
    mkdirSync(path.join(dir, "empty"));
    await assert.rejects(openCifar10(path.join(dir, "empty")), {
      message: `${path.join(dir, "empty")}: no cifar10 batch files (data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin); ${expected}`,
    });
    put(dir, "py/cifar-10-batches-py/data_batch_1", "pickle");
    await assert.rejects(openCifar10(path.join(dir, "py")), /py: no cifar10 batch files .*; this looks like the python version, which is pickled: use the binary version;/);

    const bin = path.join(dir, "bin");
    writeCifar10(bin);
    unlinkSync(path.join(bin, "data_batch_3.bin"));
    await assert.rejects(openCifar10(bin), { message: `${bin}: missing data_batch_3.bin; the download is incomplete, unpack cifar-10-binary.tar.gz again` });
    writeCifar10(bin);
    const truncated = path.join(bin, "test_batch.bin");
    truncateSync(truncated, 3073 * 3 - 100);
    await assert.rejects(openCifar10(bin), {
      message: `${truncated}: 9119 bytes is not a whole number of 3073-byte records (label + 32x32x3 pixels); the file is truncated or not the binary version, unpack it again`,
    });
    truncateSync(truncated, 0);
    await assert.rejects(openCifar10(bin), /test_batch\.bin: 0 bytes is not a whole number/);
  } finally {
    cleanup();
  }
});

test("CIFAR-100: fine labels (second byte), names from fine_label_names.txt", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bin = path.join(dir, "cifar-100-binary");
    put(bin, "train.bin", cifarBatch([[1, 42], [3, 99], [0, 7]], (i) => 500 + i));
    put(bin, "test.bin", cifarBatch([[19, 0]], () => 600));
    await assert.rejects(openCifar100(dir), {
      message: `${path.join(bin, "fine_label_names.txt")}: no such file; it names the classes, give --class-names FILE (one name per line) instead`,
    });
    put(bin, "fine_label_names.txt", Array.from({ length: 100 }, (_, i) => `fine${i}`).join("\n"));
    const source = await openCifar100(dir);
    assert.equal(source.format, "cifar100");
    assert.equal(source.classes.length, 100);
    assert.equal(source.classes[99], "fine99");
    assert.deepEqual(
      source.splits.train?.map((r) => r.label),
      [42, 99, 7],
    );
    assert.deepEqual(
      source.splits.val?.map((r) => r.label),
      [0],
    );
    assertCifarImage(await (source.splits.train ?? [])[1].load(), 501);
    put(bin, "test.bin", Buffer.alloc(3073));
    await assert.rejects(openCifar100(dir), /test\.bin: 3073 bytes is not a whole number of 3074-byte records/);
  } finally {
    cleanup();
  }
});
