import assert from "node:assert/strict";
import { test } from "node:test";
import { Random } from "../../lib/data/random";
import { accumulate, emptyStats } from "../../lib/data/stats";
import { createRgbStats } from "../../lib/data/stats-wasm";

test("RgbStats gives accumulate's sums exactly, across blocks, images and flushes", () => {
  // 96x96 = 9216 pixels: more than one 8192-pixel block, and a last block of 1024.
  const shape = [96, 96, 3];
  const fast = createRgbStats(shape);
  assert.ok(fast, "WebAssembly SIMD is missing");
  const r = new Random(9);
  const images = [new Uint8Array(96 * 96 * 3).fill(255), ...Array.from({ length: 3 }, () => Uint8Array.from({ length: 96 * 96 * 3 }, () => r.int(256)))];
  const expected = emptyStats(shape);
  const actual = emptyStats(shape);
  images.forEach((img, i) => {
    accumulate(expected, img);
    fast.add(actual, img);
    if (i === 1) fast.flush(actual); // a flush midway changes nothing
  });
  fast.flush(actual);
  assert.deepEqual(actual, expected);
});

test("createRgbStats passes on shapes it does not take, and add refuses a wrong size", () => {
  assert.equal(createRgbStats([4, 4, 1]), undefined);
  assert.equal(createRgbStats([5, 5, 3]), undefined, "25 pixels is not a multiple of 16");
  const fast = createRgbStats([4, 4, 3]);
  assert.ok(fast);
  assert.throws(() => fast.add(emptyStats([4, 4, 3]), new Uint8Array(47)), /47 values, expected 4x4x3 = 48/);
});
