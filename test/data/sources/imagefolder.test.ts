import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import sharp from "sharp";
import { isImageFile, listImageFolderVal, openImageFolder, readValLabels } from "../../../lib/data/sources/imagefolder";
import type { DataSource, SplitName } from "../../../lib/data/types";
import { tempDir } from "../../helpers/notebooks";
import { put } from "../../helpers/sources";

function origins(source: DataSource, split: SplitName, root: string): string[] {
  return (source.splits[split] ?? []).map((r) => path.relative(root, r.origin));
}
function labels(source: DataSource, split: SplitName): number[] {
  return (source.splits[split] ?? []).map((r) => r.label);
}

test("isImageFile matches image extensions in any case", () => {
  for (const name of ["a.jpg", "a.JPEG", "ILSVRC2012_val_00000001.JPEG", "b.png", "c.WebP", "d.gif", "e.tif", "f.TIFF", "g.avif", "h.jpe"]) {
    assert.equal(isImageFile(name), true, name);
  }
  for (const name of ["notes.txt", "jpg", "a.jpg.txt", "a.svg", "labels.csv", "Makefile"]) assert.equal(isImageFile(name), false, name);
});

test("ROOT/<class>: classes sorted, records by class then file, hidden and non-image files skipped", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "cat/b.png");
    put(dir, "cat/a.JPG");
    put(dir, "cat/.hidden.png");
    put(dir, "cat/notes.txt");
    put(dir, "Dog/c.jpeg");
    put(dir, "Dog/B.webp");
    mkdirSync(path.join(dir, "empty"));
    put(dir, ".git/x.png");
    put(dir, "README.md");
    const source = await openImageFolder(dir);
    assert.equal(source.format, "imagefolder");
    assert.deepEqual(source.classes, ["Dog", "cat", "empty"], "code-unit order: upper case first");
    assert.deepEqual(origins(source, "train", dir), ["Dog/B.webp", "Dog/c.jpeg", "cat/a.JPG", "cat/b.png"]);
    assert.deepEqual(labels(source, "train"), [0, 0, 1, 1]);
    assert.equal(source.splits.val, undefined);
    assert.equal(source.classNames, undefined);
    assert.deepEqual(source.skipped, [
      { origin: path.join(dir, "empty"), reason: "class folder holds no images; the class is kept so labels follow the folder list" },
    ]);
  } finally {
    cleanup();
  }
});

test("load() hands over the file's bytes for sharp to decode", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: { r: 200, g: 10, b: 30 } } }).png().toBuffer();
    const file = put(dir, "red/r.png", png);
    put(dir, "red/broken.jpg", "not a jpeg: the reader does not care, preprocessing reports it");
    const source = await openImageFolder(dir);
    const [broken, red] = source.splits.train ?? [];
    const img = await red.load();
    assert.ok(img.kind === "encoded");
    assert.deepEqual(img.data, readFileSync(file));
    const { data, info } = await sharp(img.data).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, ...data.subarray(0, 3)], [3, 2, 200, 10, 30]);
    const bad = await broken.load();
    assert.equal(bad.kind === "encoded" && bad.data.toString().startsWith("not a jpeg"), true);
  } finally {
    cleanup();
  }
});

test("ROOT/train + ROOT/val (Imagenette): val labels follow the train classes, other folders ignored", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "train/n01/a.JPEG");
    put(dir, "train/n02/b.JPEG");
    put(dir, "train/n03/c.JPEG");
    put(dir, "val/n03/z.JPEG");
    put(dir, "val/n03/y.JPEG");
    put(dir, "val/n01/x.JPEG");
    put(dir, "val/stray.JPEG");
    put(dir, "test/n01/t.JPEG");
    put(dir, "noisy_imagenette.csv", "path,label\n");
    const source = await openImageFolder(dir);
    assert.deepEqual(source.classes, ["n01", "n02", "n03"]);
    assert.deepEqual(origins(source, "train", dir), ["train/n01/a.JPEG", "train/n02/b.JPEG", "train/n03/c.JPEG"]);
    assert.deepEqual(origins(source, "val", dir), ["val/n01/x.JPEG", "val/n03/y.JPEG", "val/n03/z.JPEG"]);
    assert.deepEqual(labels(source, "val"), [0, 2, 2]);
    assert.deepEqual(source.skipped, [{ origin: path.join(dir, "val/stray.JPEG"), reason: "image outside a class folder" }]);

    put(dir, "val/zebra/q.JPEG");
    await assert.rejects(openImageFolder(dir), {
      message: `${path.join(dir, "val/zebra")}: val class "zebra" is not among the 3 train classes (n01, n02, n03); val class folders must also exist in train`,
    });
  } finally {
    cleanup();
  }
});

test("a 'validation' folder is the val split too", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "train/a/1.png");
    put(dir, "validation/a/2.png");
    assert.deepEqual(origins(await openImageFolder(dir), "val", dir), ["validation/a/2.png"]);
  } finally {
    cleanup();
  }
});

test("ImageNet: flat val folder labelled by LOC_val_solution.csv found at ROOT, names from LOC_synset_mapping.txt", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "train/n01440764/n01440764_1.JPEG");
    put(dir, "train/n01443537/n01443537_1.JPEG");
    for (let i = 1; i <= 4; i++) put(dir, `val/ILSVRC2012_val_0000000${i}.JPEG`);
    put(
      dir,
      "LOC_val_solution.csv",
      [
        "ImageId,PredictionString",
        "ILSVRC2012_val_00000002,n01443537 1 2 3 4 n01443537 5 6 7 8",
        "ILSVRC2012_val_00000001,n01440764 1 2 3 4",
        "ILSVRC2012_val_00000003,n09999999 1 2 3 4",
        "ILSVRC2012_val_00000099,n01440764 1 2 3 4",
      ].join("\n"),
    );
    put(dir, "LOC_synset_mapping.txt", "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\nn09999999 other\n");
    const source = await openImageFolder(dir);
    assert.deepEqual(source.classes, ["n01440764", "n01443537"]);
    assert.deepEqual(source.classNames, ["tench, Tinca tinca", "goldfish, Carassius auratus"]);
    assert.deepEqual(origins(source, "val", dir), ["val/ILSVRC2012_val_00000001.JPEG", "val/ILSVRC2012_val_00000002.JPEG"]);
    assert.deepEqual(labels(source, "val"), [0, 1]);
    const csv = path.join(dir, "LOC_val_solution.csv");
    assert.deepEqual(source.skipped, [
      { origin: path.join(dir, "val/ILSVRC2012_val_00000003.JPEG"), reason: `class "n09999999" (from ${csv}) is not among the train classes` },
      { origin: path.join(dir, "val/ILSVRC2012_val_00000004.JPEG"), reason: `no label in ${csv}` },
    ]);
  } finally {
    cleanup();
  }
});

test("ImageNet: explicit --val-labels in 'filename index' and 'filename synset' form; explicit --class-names", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "train/n01/a.JPEG");
    put(dir, "train/n02/b.JPEG");
    put(dir, "train/n03/c.JPEG");
    for (let i = 1; i <= 3; i++) put(dir, `val/ILSVRC2012_val_0000000${i}.JPEG`);
    const caffe = put(dir, "aux/val.txt", "ILSVRC2012_val_00000001.JPEG 2\nILSVRC2012_val_00000002.JPEG 0\r\nILSVRC2012_val_00000003.JPEG 2\n");
    const words = put(dir, "aux/words.txt", "n01\tfirst\nn03\tthird\n");
    const byIndex = await openImageFolder(dir, { valLabels: caffe, classNames: words });
    assert.deepEqual(labels(byIndex, "val"), [0, 2, 2], "sorted by label, then file");
    assert.deepEqual(origins(byIndex, "val", dir), ["val/ILSVRC2012_val_00000002.JPEG", "val/ILSVRC2012_val_00000001.JPEG", "val/ILSVRC2012_val_00000003.JPEG"]);
    assert.deepEqual(byIndex.classNames, ["first", "n02", "third"], "an id the file lacks names itself");
    assert.equal(byIndex.skipped, undefined);

    const tiny = put(dir, "aux/val_annotations.txt", "ILSVRC2012_val_00000001.JPEG\tn02\t0\t32\t44\t62\nval/ILSVRC2012_val_00000003.JPEG n01\n");
    const bySynset = await openImageFolder(dir, { valLabels: tiny });
    assert.deepEqual(origins(bySynset, "val", dir), ["val/ILSVRC2012_val_00000003.JPEG", "val/ILSVRC2012_val_00000001.JPEG"]);
    assert.deepEqual(labels(bySynset, "val"), [0, 1]);
    assert.deepEqual(bySynset.skipped?.map((s) => path.basename(s.origin)), ["ILSVRC2012_val_00000002.JPEG"]);

    const nowhere = put(dir, "aux/nowhere.txt", "n77 nothing\n");
    await assert.rejects(openImageFolder(dir, { valLabels: caffe, classNames: nowhere }), {
      message: `${nowhere}: none of the class folders (n01, n02, n03) appear in it; --class-names must map folder names to words, one '<class-id> <words>' line each`,
    });
  } finally {
    cleanup();
  }
});

test("a flat val folder without labels, and bad labels files, are refused with the file named", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "train/a/1.png");
    put(dir, "train/b/1.png");
    put(dir, "val/v1.png");
    put(dir, "val/v2.png");
    await assert.rejects(openImageFolder(dir), {
      message: `${path.join(dir, "val")}: 2 images but no class folders; give --val-labels FILE (LOC_val_solution.csv, or lines '<filename> <synset-or-index>')`,
    });
    const outOfRange = put(dir, "range.txt", "v1.png 0\nv2.png 2\n");
    await assert.rejects(openImageFolder(dir, { valLabels: outOfRange }), {
      message: `${outOfRange}:2: class index 2 but there are 2 train classes; integer labels index the sorted train class folders`,
    });
    const oneToken = put(dir, "one.txt", "v1.png\n");
    await assert.rejects(openImageFolder(dir, { valLabels: oneToken }), { message: `${oneToken}:1: expected '<filename> <synset-or-index>', got "v1.png"` });
    const badCsv = put(dir, "bad.csv", "ImageId,PredictionString\nv1,\n");
    await assert.rejects(openImageFolder(dir, { valLabels: badCsv }), /bad\.csv:2: expected 'ImageId,PredictionString' with a synset first/);
    await assert.rejects(openImageFolder(dir, { valLabels: path.join(dir, "missing.csv") }), /missing\.csv: no such file; --val-labels must be/);
  } finally {
    cleanup();
  }
});

test("readValLabels: CSV without header, BOM, keys without extension or folder", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = put(dir, "l.csv", "\uFEFFimg_1,b 1 2 3 4\r\nimg_2.JPEG,a\n");
    assert.deepEqual([...(await readValLabels(file, ["a", "b"]))], [
      ["img_1", 1],
      ["img_2", 0],
    ]);
    const txt = put(dir, "l.txt", "sub/x.png 1\ny.jpg c\n");
    assert.deepEqual([...(await readValLabels(txt, ["a", "b"]))], [
      ["x", 1],
      ["y", `class "c" (from ${txt}) is not among the train classes`],
    ]);
  } finally {
    cleanup();
  }
});

test("listImageFolderVal reads a separate val path against given classes", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "v/b/2.png");
    put(dir, "v/b/1.png");
    const val = await listImageFolderVal(path.join(dir, "v"), ["a", "b"]);
    assert.deepEqual(
      val.records.map((r) => [path.basename(r.origin), r.label]),
      [
        ["1.png", 1],
        ["2.png", 1],
      ],
    );
    assert.deepEqual(val.skipped, []);
    await assert.rejects(listImageFolderVal(path.join(dir, "nope"), ["a"]), /nope: no such folder; the val folder must hold class folders/);
    mkdirSync(path.join(dir, "blank"));
    await assert.rejects(listImageFolderVal(path.join(dir, "blank"), ["a"]), /blank: holds no images and no class folders/);
  } finally {
    cleanup();
  }
});

test("wrong paths get one-line errors naming the path and the expected layout", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const expected = "--source must be a folder of class folders (ROOT/<class>/*.jpg) or ROOT/train + ROOT/val";
    const missing = path.join(dir, "data/foo");
    await assert.rejects(openImageFolder(missing), { message: `${missing}: no such folder; ${expected}` });
    const file = put(dir, "file.jpg");
    await assert.rejects(openImageFolder(file), { message: `${file}: not a folder; ${expected}` });
    put(dir, "flat/a.png");
    put(dir, "flat/b.png");
    await assert.rejects(openImageFolder(path.join(dir, "flat")), { message: `${path.join(dir, "flat")}: no class folders (it holds 2 images directly); ${expected}` });
    mkdirSync(path.join(dir, "emptytrain/train"), { recursive: true });
    await assert.rejects(openImageFolder(path.join(dir, "emptytrain")), { message: `${path.join(dir, "emptytrain/train")}: no class folders; ${expected}` });
    put(dir, "classes/a/1.png");
    const labels = put(dir, "l.txt", "1.png a\n");
    await assert.rejects(openImageFolder(path.join(dir, "classes"), { valLabels: labels }), {
      message: `${path.join(dir, "classes")}: --val-labels given but there is no ${path.join(dir, "classes/val")} folder to label; give the val images with --val-source FOLDER`,
    });
  } finally {
    cleanup();
  }
});
