// Run by test/engine/wasm-threads.test.ts in a fresh process (wasm's thread
// count is fixed at its first start): selects wasm with argv[2] threads, takes
// conv and dense gradients, prints the thread count and a hash of the results.
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../lib/engine/select";

async function main() {
  const report = await selectEngine({ force: "wasm", wasmThreads: Number(process.argv[2]) });
  const hash = createHash("sha256");
  tf.tidy(() => {
    const x = tf.randomNormal([4, 27, 27, 16], 0, 1, "float32", 1);
    const w = tf.randomNormal([5, 5, 16, 32], 0, 1, "float32", 2);
    const a = tf.randomNormal([64, 256], 0, 1, "float32", 3);
    const b = tf.randomNormal([256, 128], 0, 1, "float32", 4);
    const conv = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf
        .conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 1, 2)
        .square()
        .sum(),
    )([x, w]);
    const dense = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf
        .matMul(p as tf.Tensor2D, q as tf.Tensor2D)
        .relu()
        .sum(),
    )([a, b]);
    for (const g of [...conv, ...dense]) hash.update(Buffer.from(g.dataSync().buffer));
  });
  console.log(JSON.stringify({ details: report.details, hash: hash.digest("hex") }));
}

main();
