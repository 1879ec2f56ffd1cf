import assert from "node:assert/strict";
import { test } from "node:test";
import { writeAugmented } from "../../lib/data/augment";
import { type WasmModule, augmentModule, createRgbAugmenter, RgbAugmenter } from "../../lib/data/augment-wasm";
import { Random } from "../../lib/data/random";
import type { ImageShape } from "../../lib/data/stats";

const compiled = augmentModule();

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** The WebAssembly path against writeAugmented, bit for bit, over random windows, shifts and means. */
function compare(shape: ImageShape, meanKind: "image" | "channel" | "none", seed: number, windows = 12): void {
  const [H, W, C] = shape;
  const r = new Random(seed);
  const record = Uint8Array.from({ length: 4 + H * W * C }, () => r.int(256));
  // Means with many significant bits, so that a float32 sum instead of float64 would round differently.
  const mean =
    meanKind === "image" ? Float32Array.from({ length: H * W * C }, () => r.next() * 255) : meanKind === "channel" ? Float32Array.from([r.next() * 255, r.next() * 255, r.next() * 255]) : undefined;
  const aug = new RgbAugmenter(compiled as WasmModule, shape, 4, mean);
  aug.record.set(record);
  for (let i = 0; i < windows; i++) {
    const h = 1 + r.int(H);
    const w = 1 + r.int(W);
    const window = { x: r.int(W - w + 1), y: r.int(H - h + 1), height: h, width: w, flip: r.next() < 0.5 };
    const shift = r.next() < 0.2 ? undefined : [r.next() * 40 - 20, r.next() * 40 - 20, r.next() * 40 - 20];
    const expected = new Float32Array(h * w * C + 5).fill(7);
    const actual = new Float32Array(h * w * C + 5).fill(7);
    writeAugmented(record, 4, shape, window, shift, mean, expected, 2);
    aug.write(window, shift, actual, 2);
    assert.deepEqual(bits(actual), bits(expected), `${meanKind} ${JSON.stringify(window)} shift ${JSON.stringify(shift)}`);
  }
}

test("WebAssembly SIMD is there (Node 16.4+), so the loader takes the fast path", () => {
  assert.ok(compiled, "augmentModule() gave null: the module failed to validate");
});

test("the WebAssembly augmentation equals writeAugmented bit for bit: per-pixel, per-channel and no mean", { skip: !compiled }, () => {
  for (const kind of ["image", "channel", "none"] as const) compare([19, 23, 3], kind, 3);
});

test("it matches on the loader's shape too: 224 crops (672 values a row, a multiple of 12) and widths that leave a remainder", { skip: !compiled }, () => {
  compare([256, 256, 3], "image", 5, 4);
  compare([9, 13, 3], "image", 6, 40);
});

test("it refuses what writeAugmented refuses, and createRgbAugmenter passes on records that are not RGB", { skip: !compiled }, () => {
  const aug = createRgbAugmenter([4, 4, 3], 4, undefined) as RgbAugmenter;
  assert.throws(() => aug.write({ x: 2, y: 0, height: 2, width: 3, flip: false }, undefined, new Float32Array(18), 0), /must lie inside the 4x4 record/);
  assert.throws(() => aug.write({ x: 0, y: 0, height: 2, width: 2, flip: false }, undefined, new Float32Array(11), 0), /do not fit in dst/);
  assert.throws(() => new RgbAugmenter(compiled as WasmModule, [4, 4, 3], 4, new Float32Array(5)), /the mean has 5 values/);
  assert.equal(createRgbAugmenter([4, 4, 1], 4, undefined), undefined);
});
