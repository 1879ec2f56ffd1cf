import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import sharp from "sharp";
import {
  BadImageError,
  classifyLoadError,
  classifySharpError,
  decodeOnly,
  preprocessImage,
  preprocessRecord,
  type PreprocessedImage,
} from "../../lib/data/preprocess";
import type { SourceImage, SourceRecord } from "../../lib/data/types";

let dir = "";
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "preprocess-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

type RGB = [number, number, number];

/** Deterministic bytes (LCG), for "random" inputs. */
function seededBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** An RGB raw buffer painted by a function of (x, y). */
function paint(width: number, height: number, colour: (x: number, y: number) => RGB): Buffer {
  const out = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out.set(colour(x, y), (y * width + x) * 3);
  }
  return out;
}

/** Each pixel names its own position: R = x low byte, G = y low byte, B = the high bits of both. */
const coordinate = (x: number, y: number): RGB => [x & 255, y & 255, ((x >> 8) << 4) | (y >> 8)];

function encodeRaw(data: Buffer, width: number, height: number, channels: 1 | 3 | 4 = 3) {
  return sharp(data, { raw: { width, height, channels } });
}

/** Writes the fixture to the tmp dir and reads it back, as a source would. */
async function viaFile(name: string, bytes: Buffer): Promise<SourceImage> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return { kind: "encoded", data: await readFile(file) };
}

function pixel(img: PreprocessedImage, x: number, y: number): RGB {
  const o = (y * img.geometry.size + x) * 3;
  return [img.pixels[o], img.pixels[o + 1], img.pixels[o + 2]];
}

function near(actual: RGB, expected: RGB, tolerance: number, where: string): void {
  const ok = actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance);
  assert.ok(ok, `${where}: got ${actual.join(",")}, expected about ${expected.join(",")}`);
}

/**
 * Independent nearest-neighbour resize + crop. Output pixel (i, j) of the
 * crop samples the source at floor((left + i + 0.5) * W / resizeWidth),
 * floor((top + j + 0.5) * H / resizeHeight): pixel-centre sampling, PIL's
 * NEAREST rule for reductions, which libvips' nearest reduce also follows
 * (it differs from PIL when enlarging, so only reductions are compared).
 */
function expectNearest(img: PreprocessedImage, srcWidth: number, srcHeight: number): void {
  const { resizeWidth, resizeHeight, left, top, size } = img.geometry;
  let mismatches = 0;
  let first = "";
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const sx = Math.floor(((left + i + 0.5) * srcWidth) / resizeWidth);
      const sy = Math.floor(((top + j + 0.5) * srcHeight) / resizeHeight);
      const want = coordinate(sx, sy);
      const got = pixel(img, i, j);
      if (got[0] !== want[0] || got[1] !== want[1] || got[2] !== want[2]) {
        if (mismatches === 0) first = `(${i},${j}) got ${got.join(",")} want source (${sx},${sy})`;
        mismatches++;
      }
    }
  }
  assert.equal(mismatches, 0, `nearest resize+crop differs at ${mismatches} pixels, first ${first}`);
}

test("nearest kernel: landscape PNG matches an independent resize+crop pixel for pixel", async () => {
  // 600x400 -> 384x256 (256*600/400 = 384), crop left (384-256)/2 = 64
  const png = await encodeRaw(paint(600, 400, coordinate), 600, 400).png().toBuffer();
  const img = await preprocessImage(await viaFile("coord-600x400.png", png), { kernel: "nearest" });
  assert.deepEqual(img.geometry, { resizeWidth: 384, resizeHeight: 256, left: 64, top: 0, size: 256 });
  assert.equal(img.pixels.length, 256 * 256 * 3);
  expectNearest(img, 600, 400);
});

test("nearest kernel: portrait with a half-pixel crop offset rounds it to even, like torchvision", async () => {
  // 333x1001 -> 256x769 (256*1001/333 = 769.54), top = round(513/2 = 256.5) = 256, not 257
  const png = await encodeRaw(paint(333, 1001, coordinate), 333, 1001).png().toBuffer();
  const img = await preprocessImage({ kind: "encoded", data: png }, { kernel: "nearest" });
  assert.deepEqual(img.geometry, { resizeWidth: 256, resizeHeight: 769, left: 0, top: 256, size: 256 });
  assert.equal(img.sourceWidth, 333);
  assert.equal(img.sourceHeight, 1001);
  expectNearest(img, 333, 1001);
});

/**
 * Pillow's resampling (src/libImaging/Resample.c: precompute_coeffs, 22-bit
 * fixed-point weights, horizontal pass then vertical, each rounded to 8 bits)
 * with its BILINEAR filter, the one torchvision's Resize uses on PIL images.
 */
function pilBilinearResize(src: Uint8Array, W: number, H: number, w: number, h: number): Uint8Array {
  const triangle = (x: number) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0);
  const coeffs = (inSize: number, outSize: number) => {
    const scale = inSize / outSize;
    const filterscale = Math.max(scale, 1);
    const support = 1 * filterscale;
    return Array.from({ length: outSize }, (_, xx) => {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
      const k = Array.from({ length: xmax }, (_u, x) => triangle((x + xmin - center + 0.5) / filterscale));
      const ww = k.reduce((a, b) => a + b, 0);
      return { xmin, k: k.map((v) => Math.trunc((v / ww) * (1 << 22) + 0.5)) };
    });
  };
  const clip8 = (v: number) => Math.min(255, Math.max(0, Math.floor(v / (1 << 22))));
  const ch = coeffs(W, w);
  const cv = coeffs(H, h);
  const tmp = new Uint8Array(w * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 1 << 21;
        ch[x].k.forEach((k, i) => (acc += src[(y * W + ch[x].xmin + i) * 3 + c] * k));
        tmp[(y * w + x) * 3 + c] = clip8(acc);
      }
    }
  }
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 1 << 21;
        cv[y].k.forEach((k, i) => (acc += tmp[((cv[y].xmin + i) * w + x) * 3 + c] * k));
        out[(y * w + x) * 3 + c] = clip8(acc);
      }
    }
  }
  return out;
}

function differenceFromPil(img: PreprocessedImage, pil: Uint8Array): { max: number; mean: number } {
  const { resizeWidth, left, top, size } = img.geometry;
  let max = 0;
  let sum = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(img.pixels[(y * size + x) * 3 + c] - pil[((y + top) * resizeWidth + x + left) * 3 + c]);
        max = Math.max(max, d);
        sum += d;
      }
    }
  }
  return { max, mean: sum / (size * size * 3) };
}

test("the default kernel stays within 2 grey levels of torchvision's PIL bilinear resize", async () => {
  for (const [W, H] of [
    [500, 375],
    [375, 500],
  ]) {
    // A photo-like texture: blurred noise.
    const src = new Uint8Array(await encodeRaw(seededBytes(W * H * 3, 11), W, H).blur(1.5).raw().toBuffer());
    const input: SourceImage = { kind: "raw", data: src, width: W, height: H, channels: 3 };
    const img = await preprocessImage(input);
    const pil = pilBilinearResize(src, W, H, img.geometry.resizeWidth, img.geometry.resizeHeight);
    const linear = differenceFromPil(img, pil);
    assert.ok(linear.max <= 2 && linear.mean < 0.5, `${W}x${H}: max ${linear.max}, mean ${linear.mean.toFixed(3)}`);
    // sharp's own default kernel is measurably further away.
    const lanczos = differenceFromPil(await preprocessImage(input, { kernel: "lanczos3" }), pil);
    assert.ok(lanczos.mean > 2 * linear.mean, `${W}x${H}: lanczos3 mean ${lanczos.mean.toFixed(3)} vs linear ${linear.mean.toFixed(3)}`);
  }
});

test("landscape JPEG: the centre is kept and both side strips are cut away", async () => {
  // 500x375 -> 341x256, crop columns 42..297 of the resized image, i.e. about
  // source columns 62..436. Red x<50 and blue x>=450 must vanish; a black bar
  // at source 70..79 lands at resized 47.7..54.5, crop 5.7..12.5.
  const src = paint(500, 375, (x) => (x < 50 ? [255, 0, 0] : x >= 450 ? [0, 0, 255] : x >= 70 && x < 80 ? [0, 0, 0] : [255, 255, 255]));
  const jpeg = await encodeRaw(src, 500, 375).jpeg({ quality: 95 }).toBuffer();
  const img = await preprocessImage(await viaFile("landscape.jpg", jpeg));
  assert.deepEqual(img.geometry, { resizeWidth: 341, resizeHeight: 256, left: 42, top: 0, size: 256 });
  for (const y of [0, 128, 255]) {
    near(pixel(img, 0, y), [255, 255, 255], 12, `left edge row ${y} (red strip cropped)`);
    near(pixel(img, 9, y), [0, 0, 0], 12, `black bar row ${y}`);
    near(pixel(img, 2, y), [255, 255, 255], 12, `left of the bar row ${y}`);
    near(pixel(img, 255, y), [255, 255, 255], 12, `right edge row ${y} (blue strip cropped)`);
  }
});

test("portrait JPEG: top and bottom strips are cut away", async () => {
  // 375x500 -> 256x341, top = round(42.5) = 42; same layout as above, turned.
  const src = paint(375, 500, (_x, y) => (y < 50 ? [255, 0, 0] : y >= 450 ? [0, 0, 255] : y >= 70 && y < 80 ? [0, 0, 0] : [255, 255, 255]));
  const jpeg = await encodeRaw(src, 375, 500).jpeg({ quality: 95 }).toBuffer();
  const img = await preprocessImage({ kind: "encoded", data: jpeg });
  assert.deepEqual(img.geometry, { resizeWidth: 256, resizeHeight: 341, left: 0, top: 42, size: 256 });
  for (const x of [0, 128, 255]) {
    near(pixel(img, x, 0), [255, 255, 255], 12, `top edge col ${x}`);
    near(pixel(img, x, 9), [0, 0, 0], 12, `black bar col ${x}`);
    near(pixel(img, x, 255), [255, 255, 255], 12, `bottom edge col ${x}`);
  }
});

test("EXIF orientation 6 is applied before the geometry: a stored landscape becomes a portrait", async () => {
  // Stored 600x400 with a red band along the top (y < 40). Orientation 6 shows
  // it turned 90 degrees clockwise: 400x600, the band on the right (x >= 360).
  // Resize 400x600 -> 256x384 puts the band at x >= 230.4; crop top = 64.
  const src = paint(600, 400, (_x, y) => (y < 40 ? [255, 0, 0] : [255, 255, 255]));
  const jpeg = await encodeRaw(src, 600, 400).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6, "fixture carries orientation 6");
  const img = await preprocessImage(await viaFile("oriented.jpg", jpeg));
  assert.equal(img.sourceWidth, 400);
  assert.equal(img.sourceHeight, 600);
  assert.deepEqual(img.geometry, { resizeWidth: 256, resizeHeight: 384, left: 0, top: 64, size: 256 });
  near(pixel(img, 250, 128), [255, 0, 0], 20, "band on the right");
  near(pixel(img, 200, 128), [255, 255, 255], 12, "white left of the band");
  near(pixel(img, 128, 0), [255, 255, 255], 12, "no band along the top");

  const decoded = await decodeOnly({ kind: "encoded", data: jpeg });
  assert.deepEqual([decoded.width, decoded.height, decoded.pixels.length], [400, 600, 400 * 600 * 3]);
});

test("grayscale PNG becomes three equal channels", async () => {
  const gray = Buffer.alloc(300 * 200);
  for (let i = 0; i < gray.length; i++) gray[i] = (i % 300) % 251;
  const png = await sharp(gray, { raw: { width: 300, height: 200, channels: 1 } }).toColourspace("b-w").png().toBuffer();
  assert.equal((await sharp(png).metadata()).channels, 1, "fixture is single-channel");
  const img = await preprocessImage({ kind: "encoded", data: png });
  assert.equal(img.pixels.length, 256 * 256 * 3);
  const distinct = new Set<number>();
  for (let p = 0; p < img.pixels.length; p += 3) {
    assert.ok(img.pixels[p] === img.pixels[p + 1] && img.pixels[p] === img.pixels[p + 2], `pixel ${p / 3} is not gray`);
    distinct.add(img.pixels[p]);
  }
  assert.ok(distinct.size > 100, "the gradient survived");
});

test("RGBA PNG: alpha is dropped without compositing, as PIL's convert('RGB') does", async () => {
  // Left half fully transparent but coloured (10,200,30); right half opaque (200,40,90).
  const W = 500;
  const H = 375;
  const rgba = Buffer.alloc(W * H * 4);
  const rgb = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c: RGB = x < W / 2 ? [10, 200, 30] : [200, 40, 90];
      rgba.set([...c, x < W / 2 ? 0 : 255], (y * W + x) * 4);
      rgb.set(c, (y * W + x) * 3);
    }
  }
  const png = await encodeRaw(rgba, W, H, 4).png().toBuffer();
  assert.equal((await sharp(png).metadata()).hasAlpha, true, "fixture has alpha");
  const img = await preprocessImage({ kind: "encoded", data: png });
  assert.deepEqual(pixel(img, 10, 10), [10, 200, 30], "transparent pixels keep their colour (not black, not white)");
  assert.deepEqual(pixel(img, 245, 10), [200, 40, 90]);
  // Same as the RGB image without alpha, pixel for pixel.
  const plain = await preprocessImage({ kind: "raw", data: rgb, width: W, height: H, channels: 3 });
  assert.deepEqual(img.pixels, plain.pixels);
  // decodeOnly drops alpha the same way.
  const decoded = await decodeOnly({ kind: "encoded", data: png });
  assert.deepEqual(Buffer.from(decoded.pixels), rgb);
});

test("16-bit PNG keeps the high byte of each sample", async () => {
  // High bytes carry the coordinate pattern, low bytes noise; nearest sampling
  // then must equal the 8-bit pattern exactly.
  const W = 600;
  const H = 400;
  const eight = paint(W, H, coordinate);
  const noise = seededBytes(eight.length, 7);
  const sixteen = new Uint16Array(eight.length);
  for (let i = 0; i < eight.length; i++) sixteen[i] = (eight[i] << 8) | noise[i];
  const png = await sharp(sixteen, { raw: { width: W, height: H, channels: 3 } }).toColourspace("rgb16").png().toBuffer();
  const meta = await sharp(png).metadata();
  assert.equal(meta.depth, "ushort", "fixture is 16-bit");
  const img = await preprocessImage({ kind: "encoded", data: png }, { kernel: "nearest" });
  expectNearest(img, W, H);
});

test("16-bit PNG with an embedded sRGB profile keeps its sRGB colours", async () => {
  const W = 64;
  const H = 48;
  const samples = new Uint16Array(W * H * 3);
  for (let i = 0; i < W * H; i++) samples.set([0xc000, 0x4000 + i * 4, 0x2000], i * 3);
  const png = await sharp(samples, { raw: { width: W, height: H, channels: 3 } }).toColourspace("rgb16").withIccProfile("srgb").png().toBuffer();
  const meta = await sharp(png).metadata();
  assert.ok(meta.depth === "ushort" && meta.hasProfile, "fixture is 16-bit with a profile");
  // With an sRGB profile the stored numbers are already sRGB: the high bytes are the answer.
  const stored = await sharp(png, { ignoreIcc: true }).raw().toBuffer();
  const img = await preprocessImage({ kind: "encoded", data: png }, { size: 48, kernel: "nearest" });
  assert.deepEqual(img.geometry, { resizeWidth: 64, resizeHeight: 48, left: 8, top: 0, size: 48 });
  let worst = 0;
  for (let y = 0; y < 48; y++) {
    for (let x = 0; x < 48; x++) {
      for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(img.pixels[(y * 48 + x) * 3 + c] - stored[(y * W + x + 8) * 3 + c]));
    }
  }
  // 2 levels of slack: the profile conversion back from P3 works on 8-bit values.
  assert.ok(worst <= 2, `colours moved by up to ${worst} levels (sharp's Display P3 detour for 16-bit images)`);
});

test("CMYK JPEG is converted to sRGB", async () => {
  const src = paint(400, 300, (x) => (x < 200 ? [220, 20, 20] : [20, 20, 220]));
  const jpeg = await encodeRaw(src, 400, 300).toColourspace("cmyk").jpeg({ quality: 95 }).toBuffer();
  assert.equal((await sharp(jpeg).metadata()).space, "cmyk", "fixture is CMYK");
  const img = await preprocessImage({ kind: "encoded", data: jpeg });
  assert.equal(img.pixels.length, 256 * 256 * 3);
  const [r1, g1, b1] = pixel(img, 20, 128);
  assert.ok(r1 > g1 + 100 && r1 > b1 + 100, `left half should be red, got ${r1},${g1},${b1}`);
  const [r2, g2, b2] = pixel(img, 235, 128);
  assert.ok(b2 > r2 + 100 && b2 > g2 + 60, `right half should be blue, got ${r2},${g2},${b2}`);
});

test("palette PNG is expanded through its palette", async () => {
  const colours: RGB[] = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 0],
  ];
  const src = paint(400, 300, (x, y) => colours[(x < 200 ? 0 : 1) + (y < 150 ? 0 : 2)]);
  const png = await encodeRaw(src, 400, 300).png({ palette: true, colours: 4 }).toBuffer();
  assert.equal((await sharp(png).metadata()).isPalette, true, "fixture is a palette PNG");
  const img = await preprocessImage({ kind: "encoded", data: png }, { kernel: "nearest" });
  // 400x300 -> 341x256 (256*400/300 = 341.33), left = round(42.5) = 42; the colour split sits at resized x = 170.5.
  assert.deepEqual(pixel(img, 0, 0), colours[0]);
  assert.deepEqual(pixel(img, 255, 0), colours[1]);
  assert.deepEqual(pixel(img, 0, 255), colours[2]);
  assert.deepEqual(pixel(img, 255, 255), colours[3]);
});

test("raw inputs: 3 channels follow the same geometry, 1 channel is replicated", async () => {
  const rgb = paint(600, 400, coordinate);
  const img = await preprocessImage({ kind: "raw", data: rgb, width: 600, height: 400, channels: 3 }, { kernel: "nearest" });
  expectNearest(img, 600, 400);

  const gray = new Uint8Array(32 * 32);
  for (let i = 0; i < gray.length; i++) gray[i] = (i * 37) % 256;
  const grayRgb = Buffer.alloc(32 * 32 * 3);
  for (let i = 0; i < gray.length; i++) grayRgb.fill(gray[i], i * 3, i * 3 + 3);
  const fromGray = await preprocessImage({ kind: "raw", data: gray, width: 32, height: 32, channels: 1 }, { size: 64 });
  const fromRgb = await preprocessImage({ kind: "raw", data: grayRgb, width: 32, height: 32, channels: 3 }, { size: 64 });
  assert.equal(fromGray.pixels.length, 64 * 64 * 3);
  assert.deepEqual(fromGray.pixels, fromRgb.pixels);
  const decodedGray = await decodeOnly({ kind: "raw", data: gray, width: 32, height: 32, channels: 1 });
  assert.deepEqual([decodedGray.width, decodedGray.height], [32, 32]);
  assert.deepEqual(Buffer.from(decodedGray.pixels), grayRgb);

  // CIFAR at its own size: no resize, no crop, bytes unchanged.
  const cifar = seededBytes(32 * 32 * 3, 3);
  const same = await preprocessImage({ kind: "raw", data: cifar, width: 32, height: 32, channels: 3 }, { size: 32 });
  assert.deepEqual(Buffer.from(same.pixels), cifar);
  // A view into a larger batch buffer (as CIFAR sources hand over) is read from its own offset.
  const batch = seededBytes(3 * 32 * 32 * 3, 5);
  const second = new Uint8Array(batch.buffer, batch.byteOffset + 32 * 32 * 3, 32 * 32 * 3);
  const fromView = await preprocessImage({ kind: "raw", data: second, width: 32, height: 32, channels: 3 }, { size: 32 });
  assert.deepEqual(Buffer.from(fromView.pixels), Buffer.from(second));
});

test("an image smaller than the output is enlarged", async () => {
  // 100x60 -> 426x256 (256*100/60 = 426.67), left = 85. Green left third, magenta right third.
  const src = paint(100, 60, (x) => (x < 33 ? [0, 255, 0] : x >= 67 ? [255, 0, 255] : [128, 128, 128]));
  const jpeg = await encodeRaw(src, 100, 60).jpeg({ quality: 95 }).toBuffer();
  const img = await preprocessImage({ kind: "encoded", data: jpeg });
  assert.deepEqual(img.geometry, { resizeWidth: 426, resizeHeight: 256, left: 85, top: 0, size: 256 });
  // Green ends at resized x = 33 * 4.26 = 140.6, i.e. crop x 55.6; magenta starts at 67 * 4.26 - 85 = 200.4.
  near(pixel(img, 30, 128), [0, 255, 0], 20, "green part");
  near(pixel(img, 128, 128), [128, 128, 128], 20, "gray middle");
  near(pixel(img, 230, 128), [255, 0, 255], 20, "magenta part");
});

test("size option: 32x32 output for small data sets", async () => {
  const jpeg = await encodeRaw(paint(500, 375, coordinate), 500, 375).jpeg().toBuffer();
  const img = await preprocessImage({ kind: "encoded", data: jpeg }, { size: 32 });
  // 32*500/375 = 42.67 -> 42, left = round(5) = 5
  assert.deepEqual(img.geometry, { resizeWidth: 42, resizeHeight: 32, left: 5, top: 0, size: 32 });
  assert.equal(img.pixels.length, 32 * 32 * 3);
});

test("the kernel option reaches sharp: linear blends a fine checkerboard, nearest does not", async () => {
  const src = paint(512, 384, (x, y) => ((x + y) % 2 === 0 ? [0, 0, 0] : [255, 255, 255]));
  const png = await encodeRaw(src, 512, 384).png().toBuffer();
  const input: SourceImage = { kind: "encoded", data: png };
  const nearest = await preprocessImage(input, { kernel: "nearest" });
  assert.ok(nearest.pixels.every((v) => v === 0 || v === 255), "nearest only copies source pixels");
  const linear = await preprocessImage(input);
  const grays = linear.pixels.filter((v) => v > 60 && v < 195).length;
  assert.ok(grays > linear.pixels.length / 2, "the default (linear) averages neighbours");
});

async function rejection(promise: Promise<unknown>): Promise<BadImageError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof BadImageError, `expected a BadImageError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a rejection");
}

test("bad inputs are rejected with a reason, not a crash", async () => {
  const empty = await rejection(preprocessImage({ kind: "encoded", data: Buffer.alloc(0) }));
  assert.equal(empty.reason, "empty file");

  const noise = await rejection(preprocessImage({ kind: "encoded", data: seededBytes(4096, 42) }));
  assert.equal(noise.reason, "not an image");

  const jpeg = await encodeRaw(paint(300, 200, coordinate), 300, 200).jpeg().toBuffer();
  const half = await rejection(preprocessImage(await viaFile("truncated.jpg", jpeg.subarray(0, jpeg.length >> 1))));
  assert.equal(half.reason, "corrupt or truncated");
  assert.match(half.detail, /premature end/i);

  const tiff = await encodeRaw(paint(300, 200, coordinate), 300, 200).tiff().toBuffer();
  const cutTiff = await rejection(preprocessImage({ kind: "encoded", data: tiff.subarray(0, tiff.length >> 1) }));
  assert.equal(cutTiff.reason, "corrupt or truncated");
  assert.match(cutTiff.detail, /starts like a TIFF/);

  const big = await rejection(preprocessImage({ kind: "encoded", data: jpeg }, { maxPixels: 10_000 }));
  assert.equal(big.reason, "too many pixels");
  assert.match(big.detail, /300x200 = 60000 pixels, over the limit of 10000/);

  const rawBig = await rejection(preprocessImage({ kind: "raw", data: new Uint8Array(300 * 200), width: 300, height: 200, channels: 1 }, { maxPixels: 10_000 }));
  assert.equal(rawBig.reason, "too many pixels");

  const short = await rejection(preprocessImage({ kind: "raw", data: new Uint8Array(10), width: 4, height: 4, channels: 3 }));
  assert.equal(short.reason, "corrupt or truncated");
  assert.match(short.detail, /10 bytes, expected 4x4x3 = 48/);

  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><rect width="300" height="300" fill="red"/></svg>');
  const vector = await rejection(preprocessImage({ kind: "encoded", data: svg }));
  assert.equal(vector.reason, "not an image");
  assert.match(vector.detail, /svg is not a raster/);

  // The same reasons from decodeOnly.
  assert.equal((await rejection(decodeOnly({ kind: "encoded", data: Buffer.alloc(0) }))).reason, "empty file");
  assert.equal((await rejection(decodeOnly({ kind: "encoded", data: jpeg.subarray(0, 2000) }))).reason, "corrupt or truncated");
  assert.equal((await rejection(decodeOnly({ kind: "encoded", data: jpeg }, { maxPixels: 100 }))).reason, "too many pixels");
});

test("failOn: a cut JPEG is refused at every level; damage the decoder only warns about passes by default, as in PIL", async () => {
  const jpeg = await encodeRaw(paint(300, 200, coordinate), 300, 200).jpeg().toBuffer();
  const cut: SourceImage = { kind: "encoded", data: jpeg.subarray(0, jpeg.length - 100) };
  for (const failOn of ["truncated", "error", "warning"] as const) {
    assert.equal((await rejection(preprocessImage(cut, { failOn }))).reason, "corrupt or truncated", failOn);
  }
  // Overwrite 50 bytes of entropy-coded data: libjpeg warns "Corrupt JPEG data" and carries on.
  const damaged = Buffer.from(jpeg);
  const middle = damaged.length >> 1;
  for (let i = middle; i < middle + 50; i++) damaged[i] = (i * 31) & 255;
  const input: SourceImage = { kind: "encoded", data: damaged };
  assert.equal((await preprocessImage(input)).pixels.length, 256 * 256 * 3);
  const strict = await rejection(preprocessImage(input, { failOn: "warning" }));
  assert.equal(strict.reason, "corrupt or truncated");
  assert.match(strict.detail, /corrupt JPEG data/i);
});

test("preprocessRecord labels outcomes with the record's origin", async () => {
  const jpeg = await encodeRaw(paint(500, 375, coordinate), 500, 375).jpeg().toBuffer();
  const good: SourceRecord = { label: 0, origin: "cats/ok.jpg", load: async () => ({ kind: "encoded", data: jpeg }) };
  const ok = await preprocessRecord(good);
  assert.ok(ok.status === "ok" && ok.image.pixels.length === 256 * 256 * 3);

  const missing = path.join(dir, "no-such-file.jpg");
  const gone: SourceRecord = { label: 1, origin: missing, load: async () => ({ kind: "encoded", data: await readFile(missing) }) };
  const unreadable = await preprocessRecord(gone);
  assert.equal(unreadable.status, "bad");
  if (unreadable.status === "bad") {
    assert.equal(unreadable.error.reason, "unreadable");
    assert.equal(unreadable.error.origin, missing);
    assert.match(unreadable.error.message, /no-such-file\.jpg: unreadable: ENOENT/);
    assert.match(unreadable.error.message, /check that the file exists/);
  }

  const folder: SourceRecord = { label: 1, origin: dir, load: async () => ({ kind: "encoded", data: await readFile(dir) }) };
  const isDir = await preprocessRecord(folder);
  assert.ok(isDir.status === "bad" && isDir.error.reason === "unreadable" && /EISDIR/.test(isDir.error.message));

  const broken: SourceRecord = { label: 2, origin: "dogs/half.jpg", load: async () => ({ kind: "encoded", data: jpeg.subarray(0, 3000) }) };
  const bad = await preprocessRecord(broken);
  assert.ok(bad.status === "bad");
  if (bad.status === "bad") assert.match(bad.error.message, /^dogs\/half\.jpg: corrupt or truncated: .*; re-download the file or delete it$/);
});

test("classifyLoadError and classifySharpError map errors to reasons", () => {
  const enoent = Object.assign(new Error("open 'x.jpg'"), { code: "ENOENT" });
  assert.deepEqual([classifyLoadError(enoent).reason, classifyLoadError(enoent).detail], ["unreadable", "ENOENT: open 'x.jpg'"]);
  assert.equal(classifyLoadError("plain string").detail, "plain string");
  const passThrough = new BadImageError("empty file", "0 bytes");
  assert.equal(classifyLoadError(passThrough), passThrough);

  assert.equal(classifySharpError(new Error("Input Buffer is empty")).reason, "empty file");
  assert.equal(classifySharpError(new Error("Input image exceeds pixel limit")).reason, "too many pixels");
  assert.equal(classifySharpError(new Error("Input buffer contains unsupported image format")).reason, "not an image");
  const jpegStart = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0]);
  assert.equal(classifySharpError(new Error("Input buffer contains unsupported image format"), jpegStart).reason, "corrupt or truncated");
  assert.equal(classifySharpError(new Error("vipspng: libpng read error")).reason, "corrupt or truncated");
  const noisy = classifySharpError(new Error("source: bad seek to 1\nsource: bad seek to 2\nheif: Invalid input: Unexpected end of file"));
  assert.equal(noisy.detail, "heif: Invalid input: Unexpected end of file");
});

test("bad options are programming errors, not bad images", async () => {
  const input: SourceImage = { kind: "raw", data: new Uint8Array(12), width: 2, height: 2, channels: 3 };
  await assert.rejects(preprocessImage(input, { size: 0 }), (e: unknown) => e instanceof RangeError && /size must be a positive whole number/.test(e.message));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  await assert.rejects(preprocessImage(input, { kernel: "bicubic" as any }), /kernel must be one of nearest, linear/);
  await assert.rejects(preprocessImage(input, { maxPixels: 1.5 }), /maxPixels must be a positive whole number/);
});
