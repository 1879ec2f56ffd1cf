// The training loop reads nothing back synchronously and frees what each step
// makes, on the reference engine. test/engine/webgpu.test.ts runs the same trace
// on webgpu, where the GPU buffer pool is counted too.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { selectEngine } from "../../lib/engine/select";
import { tempDir } from "../helpers/notebooks";
import { assertFlat, traceTraining } from "../helpers/trace";

const tmp = tempDir("alexnet-sync-reads-");
before(async () => {
  await selectEngine({ force: "cpu" });
});
after(() => tmp.cleanup());

test("train() makes no synchronous read (dataSync, arraySync) and its tensor count stays flat over 15 steps", async () => {
  const saved = process.env.ALEXNET_BACKEND;
  process.env.ALEXNET_BACKEND = "cpu";
  try {
    const trace = await traceTraining(tmp.dir);
    assert.equal(trace.backend, "cpu");
    assert.deepEqual(trace.syncReads, [], "synchronous reads in train()");
    assertFlat(trace);
  } finally {
    if (saved === undefined) delete process.env.ALEXNET_BACKEND;
    else process.env.ALEXNET_BACKEND = saved;
  }
});
