import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { before, describe, test } from "node:test";
import sharp from "sharp";
import {
  cachedSyntheticImage,
  generateSyntheticImage,
  SYNTHETIC_DEFAULTS,
  SYNTHETIC_MAX_CLASSES,
  SYNTHETIC_DESIGN,
  syntheticClassNames,
  syntheticDescription,
  syntheticSource,
  writeSyntheticImageFolder,
  type SyntheticImage,
} from "../../lib/data/synthetic";

const FEAT = 96; // side of the square thumbnails the classifier tests use

interface Sample {
  label: number;
  width: number;
  height: number;
  format?: string;
  metaWidth?: number;
  metaHeight?: number;
  grey: Float32Array;
  meanRgb: [number, number, number];
}

async function toSample(img: SyntheticImage): Promise<Sample> {
  const meta = await sharp(img.jpeg).metadata();
  const px = await sharp(img.jpeg).resize(FEAT, FEAT, { fit: "fill" }).removeAlpha().raw().toBuffer();
  const grey = new Float32Array(FEAT * FEAT);
  const sum = [0, 0, 0];
  for (let i = 0; i < grey.length; i++) {
    const [r, g, b] = [px[3 * i], px[3 * i + 1], px[3 * i + 2]];
    grey[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    sum[0] += r;
    sum[1] += g;
    sum[2] += b;
  }
  const n = grey.length;
  return {
    label: img.label,
    width: img.width,
    height: img.height,
    format: meta.format,
    metaWidth: meta.width,
    metaHeight: meta.height,
    grey,
    meanRgb: [sum[0] / n, sum[1] / n, sum[2] / n],
  };
}

async function generateMany(split: "train" | "val", count: number, concurrency = 4): Promise<SyntheticImage[]> {
  const out: SyntheticImage[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await generateSyntheticImage({}, split, i);
      }
    }),
  );
  return out;
}

// Rotation-invariant texture feature: histogram of gradient orientations
// (magnitude-weighted), then the magnitudes of its DFT, which ignore a
// rotation of the whole picture.
function orientationFeature(g: Float32Array, s: number, bins = 16): Float64Array {
  const h = new Float64Array(bins);
  for (let y = 1; y < s - 1; y++) {
    for (let x = 1; x < s - 1; x++) {
      const dx = g[y * s + x + 1] - g[y * s + x - 1];
      const dy = g[(y + 1) * s + x] - g[(y - 1) * s + x];
      let a = Math.atan2(dy, dx);
      if (a < 0) a += Math.PI;
      h[Math.min(bins - 1, Math.floor((a / Math.PI) * bins))] += Math.hypot(dx, dy);
    }
  }
  const f = new Float64Array(bins / 2 + 1);
  for (let k = 0; k <= bins / 2; k++) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < bins; i++) {
      re += h[i] * Math.cos((2 * Math.PI * k * i) / bins);
      im -= h[i] * Math.sin((2 * Math.PI * k * i) / bins);
    }
    f[k] = Math.hypot(re, im);
  }
  const norm = Math.hypot(...f) || 1;
  return f.map((v) => v / norm);
}

/** Nearest-centroid accuracy of val given train, with labels mapped by `group`. */
function nearestCentroid(
  train: { f: ArrayLike<number>; label: number }[],
  val: { f: ArrayLike<number>; label: number }[],
  groups: number,
): number {
  const dim = train[0].f.length;
  const cent = Array.from({ length: groups }, () => new Float64Array(dim));
  const count = new Array<number>(groups).fill(0);
  for (const t of train) {
    count[t.label]++;
    for (let i = 0; i < dim; i++) cent[t.label][i] += t.f[i];
  }
  cent.forEach((c, k) => c.forEach((v, i) => (c[i] = v / count[k])));
  let right = 0;
  for (const v of val) {
    let best = -1;
    let bestD = Infinity;
    cent.forEach((c, k) => {
      let d = 0;
      for (let i = 0; i < dim; i++) d += (v.f[i] - c[i]) ** 2;
      if (d < bestD) [best, bestD] = [k, d];
    });
    if (best === v.label) right++;
  }
  return right / val.length;
}

describe("class names and options", () => {
  test("10 readable, distinct names by default, which is also the most", () => {
    const names = syntheticClassNames();
    assert.equal(names.length, 10);
    assert.equal(SYNTHETIC_MAX_CLASSES, 10);
    assert.equal(new Set(names).size, 10);
    for (const n of names) assert.match(n, /^[a-z]+-[a-z]+$/);
    assert.deepEqual(names.slice(0, 2), ["striped-disc", "spotted-triangle"]);
    assert.deepEqual(syntheticClassNames(4), names.slice(0, 4));
  });

  test("design 2: each class has its own surface pattern, and shares its outline with exactly one other class", () => {
    const names = syntheticClassNames();
    const patterns = names.map((n) => n.split("-")[0]);
    const shapes = names.map((n) => n.split("-")[1]);
    assert.equal(new Set(patterns).size, names.length, "the pattern names the class");
    for (const shape of new Set(shapes)) assert.equal(shapes.filter((s) => s === shape).length, 2, `outline ${shape}`);
    assert.equal(SYNTHETIC_DESIGN, 2);
    assert.deepEqual(syntheticDescription({ trainPerClass: 3 }), { format: "synthetic", design: 2, seed: 1, classes: 10, trainPerClass: 3, valPerClass: 50, quality: 92 });
  });

  test("bad options are refused with the option, the range and the file", async () => {
    assert.throws(() => syntheticClassNames(SYNTHETIC_MAX_CLASSES + 1), /lib\/data\/synthetic\.ts.*classes must be an integer from 2 to 10, got 11/);
    assert.throws(() => syntheticSource({ classes: 1 }), /classes must be an integer from 2/);
    assert.throws(() => syntheticSource({ trainPerClass: 2.5 }), /trainPerClass must be an integer/);
    await assert.rejects(generateSyntheticImage({ quality: 5 }, "train", 0), /quality must be an integer from 16 to 100, got 5/);
    await assert.rejects(generateSyntheticImage({}, "train", -1), /index must be an integer/);
    await assert.rejects(generateSyntheticImage({}, "test" as "train", 0), /split must be "train" or "val", got "test"/);
  });
});

describe("determinism", () => {
  test("same (seed, split, index) gives the same bytes, whatever the order, concurrency or set size", async () => {
    const a = await generateSyntheticImage({ seed: 7 }, "train", 13);
    const others = await Promise.all([12, 14, 13, 0].map((i) => generateSyntheticImage({ seed: 7, trainPerClass: 2 }, "train", i)));
    assert.ok(a.jpeg.equals(others[2].jpeg));
    const b = await generateSyntheticImage({ seed: 7, trainPerClass: 999, valPerClass: 1 }, "train", 13);
    assert.ok(a.jpeg.equals(b.jpeg));
    assert.equal(a.label, 3);
  });

  test("seed, split and index each change the picture", async () => {
    const base = await generateSyntheticImage({ seed: 1 }, "train", 5);
    const seed = await generateSyntheticImage({ seed: 2 }, "train", 5);
    const split = await generateSyntheticImage({ seed: 1 }, "val", 5);
    const index = await generateSyntheticImage({ seed: 1 }, "train", 15);
    for (const other of [seed, split, index]) assert.ok(!base.jpeg.equals(other.jpeg));
    assert.equal(index.label, base.label);
  });
});

describe("syntheticSource", () => {
  test("has the DataSource shape, balanced labels and origins, without generating anything", () => {
    const src = syntheticSource();
    assert.equal(src.format, "synthetic");
    assert.deepEqual(src.classes, syntheticClassNames());
    const { classes, trainPerClass, valPerClass } = SYNTHETIC_DEFAULTS;
    assert.equal(src.splits.train?.length, classes * trainPerClass);
    assert.equal(src.splits.val?.length, classes * valPerClass);
    assert.equal(classes * (trainPerClass + valPerClass), 3100);
    for (const split of ["train", "val"] as const) {
      const counts = new Array<number>(classes).fill(0);
      for (const r of src.splits[split]!) counts[r.label]++;
      assert.deepEqual(new Set(counts), new Set([split === "train" ? trainPerClass : valPerClass]));
    }
    assert.equal(src.splits.train![123].origin, "synthetic:seed=1/train/000123");
    assert.equal(syntheticSource({ seed: 9, classes: 3, trainPerClass: 4, valPerClass: 0 }).splits.val?.length, 0);
  });

  test("load() gives the encoded JPEG of generateSyntheticImage", async () => {
    const rec = syntheticSource({ seed: 3, classes: 4 }).splits.val![6];
    const img = await rec.load();
    assert.ok("kind" in img && img.kind === "encoded");
    const direct = await generateSyntheticImage({ seed: 3, classes: 4 }, "val", 6);
    assert.ok(img.data.equals(direct.jpeg));
    assert.equal(rec.label, direct.label);
    assert.equal(rec.label, 2);
  });
});

describe("cachedSyntheticImage", () => {
  test("draws an image once, stores it, and reads it back on later calls", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "alexnet-synth-cache-"));
    try {
      const opts = { seed: 5, classes: 3 };
      const first = await cachedSyntheticImage(dir, opts, "val", 4);
      assert.ok(first.equals((await generateSyntheticImage(opts, "val", 4)).jpeg));
      const file = path.join(dir, "val", "000004.jpg");
      assert.ok(readFileSync(file).equals(first));
      // What the cache holds is what a later call returns (it is not drawn again).
      writeFileSync(file, Buffer.from("stand-in"));
      assert.equal((await cachedSyntheticImage(dir, opts, "val", 4)).toString(), "stand-in");
      assert.deepEqual(readdirSync(path.join(dir, "val")), ["000004.jpg"], "no temporary file left");
      const src = syntheticSource(opts, dir);
      const loaded = await src.splits.val![4].load();
      assert.ok(loaded.kind === "encoded" && loaded.data.toString() === "stand-in", "syntheticSource reads through the cache");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("writeSyntheticImageFolder", () => {
  test("writes root/<split>/<class>/<index>.jpg and counts them", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "alexnet-synth-"));
    try {
      const opts = { seed: 4, classes: 3, trainPerClass: 2, valPerClass: 1 };
      const res = await writeSyntheticImageFolder(root, { ...opts, concurrency: 2 });
      assert.equal(res.train, 6);
      assert.equal(res.val, 3);
      assert.ok(res.seconds > 0);
      const names = syntheticClassNames(3);
      assert.deepEqual(readdirSync(path.join(root, "train")).sort(), [...names].sort());
      assert.deepEqual(readdirSync(path.join(root, "train", names[1])).sort(), ["000001.jpg", "000004.jpg"]);
      assert.deepEqual(readdirSync(path.join(root, "val", names[2])), ["000002.jpg"]);
      const direct = await generateSyntheticImage(opts, "train", 4);
      assert.ok(readFileSync(path.join(root, "train", names[1], "000004.jpg")).equals(direct.jpeg));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("a sample of the default set", () => {
  const TRAIN = 300; // 30 per class
  const VAL = 200; // 20 per class
  let train: Sample[] = [];
  let val: Sample[] = [];
  let rate = 0;

  before(async () => {
    const t0 = process.hrtime.bigint();
    const imgs = await generateMany("train", TRAIN);
    rate = TRAIN / (Number(process.hrtime.bigint() - t0) / 1e9);
    train = await Promise.all(imgs.map(toSample));
    val = await Promise.all((await generateMany("val", VAL)).map(toSample));
  });

  test("generates at a usable rate", (t) => {
    t.diagnostic(`${rate.toFixed(0)} images/s with 4 in flight`);
    // The default 3100 must take under 30 s on 2 cores (about 100/s); this bound only catches gross slowdowns.
    assert.ok(rate > 20, `only ${rate.toFixed(1)} images/s`);
  });

  test("JPEGs decode with sharp at the reported size", () => {
    for (const s of [...train, ...val]) {
      assert.equal(s.format, "jpeg");
      assert.equal(s.metaWidth, s.width);
      assert.equal(s.metaHeight, s.height);
    }
  });

  test("sizes vary like ImageNet: 160..500, both orientations, some shorter than 256", () => {
    const all = [...train, ...val];
    for (const s of all) {
      assert.ok(s.width >= 160 && s.width <= 500 && s.height >= 160 && s.height <= 500, `${s.width}x${s.height}`);
    }
    const landscape = all.filter((s) => s.width > s.height).length;
    const portrait = all.filter((s) => s.width < s.height).length;
    const small = all.filter((s) => Math.min(s.width, s.height) < 256).length;
    const sizes = new Set(all.map((s) => `${s.width}x${s.height}`)).size;
    assert.ok(landscape > all.length * 0.4, `landscape ${landscape}`);
    assert.ok(portrait > all.length * 0.1, `portrait ${portrait}`);
    assert.ok(small > all.length * 0.1 && small < all.length * 0.9, `short side < 256: ${small}`);
    assert.ok(sizes > all.length / 4, `${sizes} distinct sizes`);
  });

  test("labels cycle through the classes", () => {
    train.forEach((s, i) => assert.equal(s.label, i % 10));
  });

  test("colour varies within a class and does not tell the class", (t) => {
    for (let k = 0; k < 10; k++) {
      const means = train.filter((s) => s.label === k).map((s) => s.meanRgb);
      for (let c = 0; c < 3; c++) {
        const xs = means.map((m) => m[c]);
        const mu = xs.reduce((a, b) => a + b) / xs.length;
        const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mu) ** 2, 0) / xs.length);
        assert.ok(sd > 15, `class ${k} channel ${c}: sd of mean colour only ${sd.toFixed(1)}`);
      }
    }
    const acc = nearestCentroid(
      train.map((s) => ({ f: s.meanRgb, label: s.label })),
      val.map((s) => ({ f: s.meanRgb, label: s.label })),
      10,
    );
    t.diagnostic(`mean colour, nearest centroid: ${(acc * 100).toFixed(1)}% (chance 10%)`);
    assert.ok(acc < 0.22, `colour alone gives ${acc}`);
  });

  test("learnable without a neural net, but not trivially", (t) => {
    const feat = (s: Sample) => ({ f: orientationFeature(s.grey, FEAT), label: s.label });
    const tr = train.map(feat);
    const va = val.map(feat);
    const classAcc = nearestCentroid(tr, va, 10);
    // Classes k and k+5 share an outline (label mod 5).
    const byOutline = (x: { f: Float64Array; label: number }) => ({ f: x.f, label: x.label % 5 });
    const outlineAcc = nearestCentroid(tr.map(byOutline), va.map(byOutline), 5);
    t.diagnostic(`orientation-histogram nearest centroid, ${TRAIN} train -> ${VAL} val: class ${(classAcc * 100).toFixed(1)}% (chance 10%), outline ${(outlineAcc * 100).toFixed(1)}% (chance 20%)`);
    assert.ok(classAcc >= 0.18, `class accuracy ${classAcc} is not clearly above chance`);
    assert.ok(classAcc <= 0.95, `class accuracy ${classAcc}: the task is trivial`);
  });
});
