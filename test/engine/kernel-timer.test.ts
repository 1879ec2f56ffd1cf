// The per-kernel timer on the cpu backend with a fake clock: each kernel call
// advances it by one tick at entry and one at return, so times are exact.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { startKernelTimer } from "../../lib/engine/kernel-timer";

test("startKernelTimer counts calls, splits a composite's own time from its nested kernels, and stop() restores the kernels", async () => {
  await tf.setBackend("cpu");
  const outer = "AlexnetTimerTestOuter";
  tf.registerKernel({
    kernelName: outer,
    backendName: "cpu",
    // A composite: calls the registered Add twice, as the course's kernels call stock ones.
    kernelFunc: (args) => {
      const add = tf.getKernel(tf.Add, "cpu")!.kernelFunc;
      const once = add({ ...args, attrs: {} }) as tf.TensorInfo;
      (args.backend as tf.KernelBackend).disposeData(once.dataId);
      return add({ ...args, attrs: {} });
    },
  });
  const addBefore = tf.getKernel(tf.Add, "cpu")!.kernelFunc;
  let clock = 0;
  const timer = startKernelTimer("cpu", [tf.Add], () => clock++);
  try {
    const a = tf.tensor1d([1, 2]);
    const b = tf.tensor1d([3, 4]);
    tf.add(a, b).dispose();
    const out = tf.engine().runKernel(outer, { a, b }, {}) as tf.Tensor;
    assert.deepEqual(Array.from(out.dataSync()), [4, 6]);
    const byKey = new Map(timer.times().map((t) => [t.key, t]));
    const top = byKey.get("Add [2] [2]")!;
    assert.equal(top.calls, 1);
    assert.equal(top.totalMs, 1);
    const nested = byKey.get(`${outer}>Add [2] [2]`)!;
    assert.equal(nested.calls, 2);
    assert.equal(nested.totalMs, 2);
    const o = byKey.get(outer)!;
    // Outer reads the clock at t and t+5; the nested calls read it at t+1..t+4 and last 1 tick each.
    assert.equal(o.totalMs, 5);
    assert.equal(o.selfMs, 3);
    assert.equal(timer.kernelMs(), 1 + 5, "only outermost kernels count toward the step's kernel time");
    tf.dispose([a, b, out]);
  } finally {
    timer.stop();
    tf.unregisterKernel(outer, "cpu");
  }
  assert.equal(tf.getKernel(tf.Add, "cpu")!.kernelFunc, addBefore, "stop() puts the original kernel back");
});
