import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import zlib from "node:zlib";
import { FASHION_MNIST_CLASS_NAMES, openIdx, parseIdxHeader } from "../../../lib/data/sources/idx";
import type { DataSource, SourceImage } from "../../../lib/data/types";
import { tempDir } from "../../helpers/notebooks";
import { idxBytes, idxImages, idxPixel, put } from "../../helpers/sources";

const TRAIN_LABELS = [0, 2, 1, 2, 0];
const TEST_LABELS = [1, 0];

/** An MNIST-like set: 5 train and 2 test images of 3 rows x 2 columns. */
function writeIdxSet(dir: string, opts: { gz?: boolean; test?: boolean; prefix?: string; testWord?: string } = {}): void {
  const wrap = (b: Buffer) => (opts.gz ? zlib.gzipSync(b) : b);
  const ext = opts.gz ? ".gz" : "";
  const p = opts.prefix ?? "";
  put(dir, `${p}train-images-idx3-ubyte${ext}`, wrap(idxImages(5)));
  put(dir, `${p}train-labels-idx1-ubyte${ext}`, wrap(idxBytes([5], TRAIN_LABELS)));
  if (opts.test !== false) {
    const t = opts.testWord ?? "t10k";
    put(dir, `${p}${t}-images-idx3-ubyte${ext}`, wrap(idxImages(2)));
    put(dir, `${p}${t}-labels-idx1-ubyte${ext}`, wrap(idxBytes([2], TEST_LABELS)));
  }
}

function assertIdxImage(img: SourceImage, n: number): void {
  assert.ok(img.kind === "raw");
  assert.deepEqual([img.width, img.height, img.channels], [2, 3, 1], "width is the column count");
  assert.deepEqual([...img.data], Array.from({ length: 6 }, (_, i) => idxPixel(n, i)));
}

async function assertMnistLike(source: DataSource): Promise<void> {
  assert.equal(source.format, "idx");
  assert.deepEqual(source.classes, ["0", "1", "2"], "label count is max label + 1");
  assert.deepEqual(
    source.splits.train?.map((r) => r.label),
    TRAIN_LABELS,
  );
  assert.deepEqual(
    source.splits.val?.map((r) => r.label),
    TEST_LABELS,
  );
  const train = source.splits.train ?? [];
  assertIdxImage(await train[0].load(), 0);
  assertIdxImage(await train[4].load(), 4);
  assertIdxImage(await (source.splits.val ?? [])[1].load(), 1);
}

test("parseIdxHeader reads dtype and big-endian dimensions", () => {
  assert.deepEqual(parseIdxHeader(idxBytes([60000, 28, 28], []), "f"), { dtype: 8, dims: [60000, 28, 28], headerBytes: 16 });
  assert.deepEqual(parseIdxHeader(idxBytes([70000], [], 0x0d), "f"), { dtype: 0x0d, dims: [70000], headerBytes: 8 });
  assert.throws(() => parseIdxHeader(Buffer.from([1, 2, 8, 1, 0, 0, 0, 0]), "x.idx"), { message: "x.idx: not an IDX file (starts with 0x01 0x02, IDX files start with 0x00 0x00)" });
  assert.throws(() => parseIdxHeader(Buffer.from([0x1f, 0x8b, 8, 0]), "dir/a-idx1-ubyte"), /a-idx1-ubyte: this file is gzip-compressed but its name does not end in \.gz; rename it to a-idx1-ubyte\.gz/);
  assert.throws(() => parseIdxHeader(Buffer.from([0, 0, 8]), "s"), /s: 3 bytes, too short for an IDX header/);
  assert.throws(() => parseIdxHeader(Buffer.from([0, 0, 8, 3, 0, 0, 0, 1]), "s"), /s: IDX header says 3 dimensions but the file is too short/);
});

test("plain IDX files: train and t10k splits, labels, pixels, names 0..max", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeIdxSet(dir);
    const source = await openIdx(dir);
    await assertMnistLike(source);
    assert.equal(source.classNames, undefined);
    assert.equal(source.splits.train?.[3].origin, `${path.join(dir, "train-images-idx3-ubyte")}#3`);
  } finally {
    cleanup();
  }
});

test("gzipped IDX files read the same; plain files win when both are there", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeIdxSet(dir, { gz: true });
    const gz = await openIdx(dir);
    await assertMnistLike(gz);
    assert.ok(gz.splits.train?.[0].origin.includes("train-images-idx3-ubyte.gz#0"));
    writeIdxSet(dir);
    const both = await openIdx(dir);
    assert.ok(both.splits.train?.[0].origin.endsWith("train-images-idx3-ubyte#0"));
  } finally {
    cleanup();
  }
});

test("variants: torchvision's raw/ folder, dotted names, EMNIST prefixes with 'test', no val split", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeIdxSet(path.join(dir, "MNIST/raw"), { gz: true });
    await assertMnistLike(await openIdx(path.join(dir, "MNIST")));

    const dotted = path.join(dir, "dotted");
    put(dotted, "train-images.idx3-ubyte", idxImages(5));
    put(dotted, "train-labels.idx1-ubyte", idxBytes([5], TRAIN_LABELS));
    const noVal = await openIdx(dotted);
    assert.equal(noVal.splits.val, undefined);
    assert.equal(noVal.splits.train?.length, 5);

    const emnist = path.join(dir, "emnist");
    writeIdxSet(emnist, { prefix: "emnist-digits-", testWord: "test" });
    await assertMnistLike(await openIdx(emnist));
    writeIdxSet(emnist, { prefix: "emnist-letters-", test: false });
    await assert.rejects(openIdx(emnist), {
      message: `${emnist}: IDX files of 2 datasets (emnist-digits-train-images..., emnist-letters-train-images...); point --source at a folder holding one set`,
    });
  } finally {
    cleanup();
  }
});

test("--class-names gives names (and the class count); too few names is an error", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeIdxSet(dir);
    const fashion = put(dir, "names.txt", FASHION_MNIST_CLASS_NAMES.join("\n"));
    const named = await openIdx(dir, { classNames: fashion });
    assert.equal(named.classes.length, 10);
    assert.deepEqual(named.classes.slice(0, 3), ["0", "1", "2"]);
    assert.deepEqual(named.classNames, [...FASHION_MNIST_CLASS_NAMES]);
    const short = put(dir, "short.txt", "zero\none\n");
    await assert.rejects(openIdx(dir, { classNames: short }), {
      message: `${short}: 2 class names but the labels go up to 2; give one name per line for labels 0..2`,
    });
  } finally {
    cleanup();
  }
});

test("mismatched counts, truncated and foreign files are refused naming the file", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const images = path.join(dir, "train-images-idx3-ubyte");
    const labels = path.join(dir, "train-labels-idx1-ubyte");
    writeIdxSet(dir, { test: false });

    writeFileSync(labels, idxBytes([4], [0, 1, 0, 1]));
    await assert.rejects(openIdx(dir), { message: `${images} has 5 images but ${labels} has 4 labels; both must come from the same set` });

    writeFileSync(labels, idxBytes([5], [0, 1, 0]));
    await assert.rejects(openIdx(dir), {
      message: `${labels}: header says 5 labels (13 bytes) but the data is 11 bytes; the file is truncated, download it again`,
    });
    writeFileSync(labels, idxBytes([5], TRAIN_LABELS));

    writeFileSync(images, idxImages(5).subarray(0, 30));
    await assert.rejects(openIdx(dir), {
      message: `${images}: header says 5 images of 3x2 (46 bytes) but the data is 30 bytes; the file is truncated, download it again`,
    });
    writeFileSync(images, Buffer.concat([idxImages(5), Buffer.alloc(3)]));
    await assert.rejects(openIdx(dir), /train-images-idx3-ubyte: header says 5 images of 3x2 \(46 bytes\) but the data is 49 bytes; 3 bytes too many/);
    writeFileSync(images, idxBytes([5, 3, 2], new Array(30).fill(0), 0x0d));
    await assert.rejects(openIdx(dir), { message: `${images}: IDX data type is float; only unsigned byte (0x08) images (idx3) are supported` });
    writeFileSync(images, idxBytes([5, 6], new Array(30).fill(0)));
    await assert.rejects(openIdx(dir), { message: `${images}: IDX file has 2 dimensions; images (idx3) files have 3` });
    writeFileSync(images, zlib.gzipSync(idxImages(5)));
    await assert.rejects(openIdx(dir), /train-images-idx3-ubyte: this file is gzip-compressed but its name does not end in \.gz/);
  } finally {
    cleanup();
  }
});

test("a truncated .gz is caught while listing (images) or reading (labels)", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeIdxSet(dir, { gz: true, test: false });
    const images = path.join(dir, "train-images-idx3-ubyte.gz");
    const whole = readFileSync(images);
    writeFileSync(images, whole.subarray(0, whole.length - 6));
    await assert.rejects(openIdx(dir), new RegExp(`^Error: ${escape(images)}: header says 5 images of 3x2 \\(46 bytes\\) but the gzip data holds \\d+ bytes; the file is truncated or corrupt`));
    writeFileSync(images, whole);

    const labels = path.join(dir, "train-labels-idx1-ubyte.gz");
    const lab = readFileSync(labels);
    writeFileSync(labels, lab.subarray(0, lab.length - 6));
    await assert.rejects(openIdx(dir), new RegExp(`^Error: ${escape(labels)}: cannot be gunzipped \\(.*\\); the file is truncated or corrupt`));
  } finally {
    cleanup();
  }
});

test("missing partners, missing sets and wrong paths get one-line errors", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const expected =
      "--source must be the folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz)";
    await assert.rejects(openIdx(path.join(dir, "nope")), { message: `${path.join(dir, "nope")}: no such folder; ${expected}` });
    mkdirSync(path.join(dir, "empty"));
    await assert.rejects(openIdx(path.join(dir, "empty")), { message: `${path.join(dir, "empty")}: no IDX training files; ${expected}` });
    const onlyTest = path.join(dir, "only-test");
    put(onlyTest, "t10k-images-idx3-ubyte", idxImages(2));
    put(onlyTest, "t10k-labels-idx1-ubyte", idxBytes([2], TEST_LABELS));
    await assert.rejects(openIdx(onlyTest), { message: `${onlyTest}: no IDX training files; ${expected}` });

    const partner = path.join(dir, "partner");
    put(partner, "train-images-idx3-ubyte", idxImages(5));
    await assert.rejects(openIdx(partner), { message: `${partner}: has train-images-idx3-ubyte but no train-labels-idx1-ubyte[.gz] to go with it` });
    put(partner, "train-labels-idx1-ubyte", idxBytes([5], TRAIN_LABELS));
    put(partner, "t10k-labels-idx1-ubyte.gz", zlib.gzipSync(idxBytes([2], TEST_LABELS)));
    await assert.rejects(openIdx(partner), { message: `${partner}: has t10k-labels-idx1-ubyte.gz but no t10k-images-idx3-ubyte[.gz] to go with it` });
  } finally {
    cleanup();
  }
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
