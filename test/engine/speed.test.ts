import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { compareEngines, matmulSpeed } from "../../lib/engine/speed";
import { selectEngine } from "../../lib/engine/select";

test("matmulSpeed reports a positive rate consistent with its timing, and frees its tensors", async () => {
  await selectEngine({ force: "cpu" });
  const before = tf.memory().numTensors;
  const s = await matmulSpeed(64, 2);
  assert.equal(s.engine, "cpu");
  assert.equal(s.size, 64);
  assert.ok(s.ms > 0);
  assert.ok(Math.abs(s.gflops - (2 * 64 ** 3) / (s.ms * 1e6)) < 1e-9);
  assert.equal(tf.memory().numTensors, before);
});

test("compareEngines times every engine that starts and names why the others do not, and leaves the engine it found active", async () => {
  const active = await selectEngine({ force: "wasm" });
  const rows = await compareEngines(32, ["wasm", "cpu", "cuda"]);
  assert.equal(tf.getBackend(), "wasm", "the engine active before, not the last one timed");
  assert.equal(await selectEngine(), active);
  assert.deepEqual(
    rows.map((r) => r.engine),
    ["wasm", "cpu", "cuda"],
  );
  assert.ok(!("unavailable" in rows[0]) && rows[0].gflops > 0);
  assert.ok(!("unavailable" in rows[1]) && rows[1].gflops > 0);
  const gpu = rows[2];
  if ("unavailable" in gpu) assert.match(gpu.unavailable, /GPU|tfjs-node-gpu/);
});
