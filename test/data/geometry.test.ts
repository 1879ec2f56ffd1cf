import assert from "node:assert/strict";
import { test } from "node:test";
import { centerCropOffset, resizeCropGeometry, resizeShorterSide, roundHalfEven } from "../../lib/data/geometry";

test("roundHalfEven rounds halves to the even neighbour, like Python 3's round", () => {
  // Python: [round(x) for x in (0.5, 1.5, 2.5, 3.5, 42.5, 99.5, 126.5, 256.5)] == [0, 2, 2, 4, 42, 100, 126, 256]
  const halves: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [3.5, 4],
    [42.5, 42],
    [99.5, 100],
    [126.5, 126],
    [256.5, 256],
    [-0.5, 0],
    [-1.5, -2],
    [-2.5, -2],
  ];
  for (const [x, want] of halves) assert.equal(roundHalfEven(x), want, `round(${x})`);
  // Away from halves it is ordinary rounding.
  const others: [number, number][] = [
    [0, 0],
    [0.49, 0],
    [0.51, 1],
    [2.4999, 2],
    [2.5001, 3],
    [7, 7],
    [-0.6, -1],
  ];
  for (const [x, want] of others) assert.equal(roundHalfEven(x), want, `round(${x})`);
});

test("roundHalfEven refuses non-finite numbers", () => {
  assert.throws(() => roundHalfEven(Number.NaN), /finite/);
  assert.throws(() => roundHalfEven(Number.POSITIVE_INFINITY), /finite/);
});

// Expected values are worked out by hand from torchvision's rules:
//   short, long = (w, h) if w <= h else (h, w); new_long = int(size * long / short)
//   left = round((resizeWidth - size) / 2), top = round((resizeHeight - size) / 2), halves to even
type Row = { w: number; h: number; size: number; want: [number, number, number, number]; why: string };
const table: Row[] = [
  { w: 375, h: 500, size: 256, want: [256, 341, 0, 42], why: "256*500/375 = 341.33 -> 341; (341-256)/2 = 42.5 -> 42 (even)" },
  { w: 500, h: 375, size: 256, want: [341, 256, 42, 0], why: "256*500/375 = 341.33 -> 341; 42.5 -> 42" },
  { w: 256, h: 256, size: 256, want: [256, 256, 0, 0], why: "already the size: 256*256/256 = 256" },
  { w: 300, h: 300, size: 256, want: [256, 256, 0, 0], why: "square, w <= h: 256*300/300 = 256" },
  { w: 257, h: 511, size: 256, want: [256, 509, 0, 126], why: "256*511/257 = 130816/257 = 509.01 -> 509; (509-256)/2 = 126.5 -> 126" },
  { w: 333, h: 1001, size: 256, want: [256, 769, 0, 256], why: "256*1001/333 = 256256/333 = 769.54 -> 769; 513/2 = 256.5 -> 256" },
  { w: 100, h: 60, size: 256, want: [426, 256, 85, 0], why: "upscale: 256*100/60 = 426.67 -> 426; 170/2 = 85" },
  { w: 32, h: 32, size: 256, want: [256, 256, 0, 0], why: "upscale a square: 256*32/32 = 256" },
  { w: 2000, h: 50, size: 256, want: [10240, 256, 4992, 0], why: "256*2000/50 = 10240 exactly; 9984/2 = 4992" },
  { w: 1920, h: 1080, size: 256, want: [455, 256, 100, 0], why: "256*1920/1080 = 455.11 -> 455; 199/2 = 99.5 -> 100 (even)" },
  { w: 259, h: 256, size: 256, want: [259, 256, 2, 0], why: "no resize (256*259/256 = 259); 3/2 = 1.5 -> 2" },
  { w: 261, h: 256, size: 256, want: [261, 256, 2, 0], why: "5/2 = 2.5 -> 2" },
  { w: 256, h: 257, size: 256, want: [256, 257, 0, 0], why: "1/2 = 0.5 -> 0" },
  { w: 500, h: 375, size: 32, want: [42, 32, 5, 0], why: "CIFAR-sized output: 32*500/375 = 42.67 -> 42; 10/2 = 5" },
  { w: 28, h: 28, size: 64, want: [64, 64, 0, 0], why: "MNIST upscaled to 64" },
  { w: 32, h: 32, size: 32, want: [32, 32, 0, 0], why: "CIFAR at its own size: nothing to do" },
];

test("resizeCropGeometry matches hand-computed torchvision Resize+CenterCrop", () => {
  for (const { w, h, size, want, why } of table) {
    const [resizeWidth, resizeHeight, left, top] = want;
    assert.deepEqual(resizeCropGeometry(w, h, size), { resizeWidth, resizeHeight, left, top, size }, `${w}x${h} -> ${size}: ${why}`);
  }
});

test("resizeShorterSide keeps the portrait/landscape sense", () => {
  assert.deepEqual(resizeShorterSide(375, 500, 256), { width: 256, height: 341 });
  assert.deepEqual(resizeShorterSide(500, 375, 256), { width: 341, height: 256 });
  // 640x427: 256*640/427 = 163840/427 = 383.70 -> 383 (truncated, not rounded to 384)
  assert.deepEqual(resizeShorterSide(640, 427, 256), { width: 383, height: 256 });
});

test("centerCropOffset handles rectangular crops and refuses crops that do not fit", () => {
  // 10-crop style centre 224 patch of a 256 image: (256-224)/2 = 16
  assert.deepEqual(centerCropOffset(256, 256, 224, 224), { left: 16, top: 16 });
  // 227 crop (Caffe): 29/2 = 14.5 -> 14
  assert.deepEqual(centerCropOffset(256, 256, 227, 227), { left: 14, top: 14 });
  // width 300 crop 100: 100; height 101 crop 100: 0.5 -> 0
  assert.deepEqual(centerCropOffset(300, 101, 100, 100), { left: 100, top: 0 });
  assert.throws(() => centerCropOffset(200, 300, 256, 256), /does not fit in an image of 200x300/);
});

test("geometry refuses sizes that are not positive whole numbers", () => {
  assert.throws(() => resizeCropGeometry(0, 10, 256), /width must be a positive whole number/);
  assert.throws(() => resizeCropGeometry(10, 2.5, 256), /height must be a positive whole number/);
  assert.throws(() => resizeCropGeometry(10, 10, -1), /size must be a positive whole number/);
  assert.throws(() => resizeCropGeometry(10, 10, Number.NaN), /size must be a positive whole number/);
});
