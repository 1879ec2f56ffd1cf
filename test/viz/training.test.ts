// The training reporter, driven only by the trainer's hooks: the lines each
// progress mode writes, and the hooks composed in order.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { EpochMetrics, RunConfig } from "../../lib/run/run";
import { NO_PARTIAL, type StartInfo, composeHooks } from "../../lib/train/loop";
import { type ProgressMode, trainingReporter } from "../../lib/viz/training";

const config = {
  profile: "smoke",
  data: "/d",
  model: "mini",
  modelOptions: {},
  epochs: 2,
  batchSize: 8,
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 5e-4,
  schedule: { kind: "drop", after: 0.5, factor: 0.1 },
  seed: 1,
  crop: 64,
  inputScale: 1,
  lighting: 0.1,
} as RunConfig;
const start: StartInfo = {
  config,
  classes: 10,
  trainImages: 40,
  valImages: 20,
  stepsPerEpoch: 5,
  startEpoch: 0,
  startStep: 0,
  lr: 0.01,
  resumedFrom: undefined,
  note: ", conv1 frozen",
  engine: "cpu",
};
const epoch = (n: number, lr: number, nextLr: number): EpochMetrics => ({
  epoch: n,
  step: 5 * n,
  lr,
  nextLr,
  schedule: nextLr === lr ? "lr 0.01" : `lr ${lr} -> ${nextLr}`,
  trainLoss: 2.1,
  trainTop1Error: 0.8,
  valLoss: 2.2,
  valTop1Error: 0.75,
  valTop5Error: 0.3,
  imagesPerSecond: 100,
  seconds: 3,
  checkpoint: `checkpoints/epoch-000${n}`,
  time: "",
});

function capture(mode: ProgressMode, isTTY = false) {
  let text = "";
  const stream = { isTTY, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WritableStream;
  return { reporter: trainingReporter({ progress: mode, stream }), text: () => text };
}

async function drive(mode: ProgressMode, resumed = false): Promise<string> {
  const { reporter, text } = capture(mode);
  const hooks = composeHooks(reporter);
  hooks.onStart(resumed ? { ...start, startEpoch: 1, startStep: 2, resumedFrom: "/r/interrupted/checkpoints/epoch-0001" } : start);
  for (let step = 0; step < 5; step++) hooks.onStep({ epoch: 0, step, globalStep: step + 1, loss: 2, lr: 0.01, images: 8, numTensors: 0 });
  const history = [epoch(1, 0.01, 0.001)];
  await hooks.onEpoch(history[0], history);
  hooks.onStop({ epoch: 1, step: 2, stepsPerEpoch: 5, checkpoint: "/r/interrupted/checkpoints/epoch-0001" });
  hooks.onStop({ epoch: 1, stepsPerEpoch: 5, checkpoint: "/r/checkpoints/epoch-0002" });
  hooks.onEnd("interrupted");
  return text();
}

test("in lines mode the reporter writes the start, each epoch (with a rate change), the stops and the bar's lines", async () => {
  const out = await drive("lines");
  assert.match(
    out,
    /^training mini \(64x64, 10 classes, conv1 frozen\) on \/d: 40 train \/ 20 val images, batch 8, 2 epochs, engine cpu\n/,
  );
  assert.match(
    out,
    /\nepoch 1\/2: train loss 2\.100, top-1 80\.0% .* · lr 0\.01 .* · lr 0\.01 -> 0\.001\n/,
    "a changed rate adds the schedule's reason",
  );
  assert.match(out, /stopped at epoch 2, step 3 of 5; saved \/r\/interrupted\/checkpoints\/epoch-0001; continue with --resume\n/);
  assert.match(out, /stopped after epoch 2; saved \/r\/checkpoints\/epoch-0002; continue with --resume\n/);
  assert.match(out, /train .*img/, "the progress bar reports in lines too");
  assert.doesNotMatch(out, /resuming from/);
});

test("a resumed start says where from; an unchanged rate adds no reason; silent writes nothing; tty redraws in place", async () => {
  assert.match(
    await drive("lines", true),
    /^resuming from \/r\/interrupted\/checkpoints\/epoch-0001 \(epoch 2, step 3 of 5, lr 0\.01\)\ntraining mini/,
  );
  const { reporter, text } = capture("lines");
  reporter.onStart?.(start);
  await reporter.onEpoch?.(epoch(1, 0.01, 0.01), [epoch(1, 0.01, 0.01)]);
  assert.match(text(), /· 3\.0 s\n$/, "no schedule note when the rate stays");
  assert.equal(await drive("silent"), "");
  // eslint-disable-next-line no-control-regex -- the terminal's erase-line escape is what is tested
  assert.match(await drive("tty"), /\r\x1b\[Kepoch 1\/2: /);
});

test("composeHooks calls every set of hooks in order and awaits each onEpoch before the next", async () => {
  const calls: string[] = [];
  const slow = {
    onStart: () => calls.push("a start"),
    onEpoch: async () => {
      await new Promise((r) => setTimeout(r, 10));
      calls.push("a epoch");
    },
    onEnd: () => calls.push("a end"),
  };
  const fast = {
    onStart: () => calls.push("b start"),
    onEpoch: () => calls.push("b epoch"),
    onStep: () => calls.push("b step"),
    onStop: () => calls.push("b stop"),
  };
  const hooks = composeHooks(slow, {}, fast);
  hooks.onStart(start);
  hooks.onStep({ epoch: 0, step: 0, globalStep: 1, loss: 1, lr: 0.1, images: 8, numTensors: 0 });
  await hooks.onEpoch(epoch(1, 0.01, 0.01), []);
  hooks.onStop({ epoch: 0, stepsPerEpoch: 5, checkpoint: "c" });
  hooks.onEnd("completed");
  assert.deepEqual(calls, ["a start", "b start", "b step", "a epoch", "b epoch", "b stop", "a end"]);
  assert.deepEqual(NO_PARTIAL, { lossSum: 0, wrong: 0, seen: 0, steps: 0, seconds: 0 });
});
