// A run's settings: every option checked once with a typed error, the profile's
// defaults filled in, the default dataset picked at the resolved crop's records.
import assert from "node:assert/strict";
import { test } from "node:test";
import { embeddedDatasetDir } from "../../lib/data/embedded";
import type { RunConfig } from "../../lib/run/run";
import { TRAIN_PROFILES } from "../../lib/train/profiles";
import { PlateauSchedule, StepSchedule } from "../../lib/train/schedule";
import { type RunOptions, TrainOptionsError, checkOptions, defaultDataset, makeSchedule, resolveSettings } from "../../lib/train/settings";

const fails = (options: Partial<RunOptions>, message: RegExp, named: [string, unknown][], reason: RegExp) => {
  assert.throws(
    () => checkOptions({ runDir: "/tmp/r", ...options } as RunOptions),
    (err: Error) => {
      assert.ok(err instanceof TrainOptionsError, `${err.name}: ${err.message}`);
      assert.match(err.message, message);
      assert.deepEqual(err.options, named);
      assert.match(err.reason, reason);
      return true;
    },
    JSON.stringify(options),
  );
};

test("checkOptions raises a TrainOptionsError naming the options at fault, their values and the reason", () => {
  fails({ runDir: "" }, /runDir is required/, [["runDir", ""]], /is required/);
  fails({ profile: "huge" }, /unknown profile 'huge'/, [["profile", "huge"]], /^use one of smoke, laptop, paper$/);
  fails({ model: "vgg" as never }, /model 'vgg' is unknown/, [["model", "vgg"]], /^use one of paper, paper-1tower, torchvision, mini$/);
  fails({ epochs: 0 }, /epochs must be a whole number of at least 1, got 0/, [["epochs", 0]], /whole number of at least 1/);
  fails({ batchSize: 2.5 }, /batchSize must be a whole number/, [["batchSize", 2.5]], /whole number/);
  fails({ keepLast: 0 }, /keepLast must be a whole number of at least 1/, [["keepLast", 0]], /at least 1/);
  fails({ momentum: -1 }, /momentum must be a finite number >= 0, got -1/, [["momentum", -1]], />= 0/);
  fails({ lr: 0 }, /lr 0: the learning rate must be greater than 0/, [["lr", 0]], /^the learning rate must be greater than 0$/);
  fails({ inputScale: 0 }, /inputScale must be greater than 0/, [["inputScale", 0]], /greater than 0/);
  fails({ modelOptions: { dropout: 1 } }, /dropout 1 must be a rate in \[0, 1\)/, [["dropout", 1]], /^a rate in \[0, 1\)/);
  fails({ freeze: "all" as never }, /freeze 'all' is unknown/, [["freeze", "all"]], /^use one of features, none$/);
  fails(
    { featuresLrScale: 0 },
    /featuresLrScale 0 would leave the features as they are/,
    [["featuresLrScale", 0]],
    /^use --freeze features/,
  );
  fails(
    { freeze: "features", featuresLrScale: 0.1 },
    /choose freeze "features" or a featuresLrScale/,
    [
      ["freeze", "features"],
      ["featuresLrScale", 0.1],
    ],
    /choose one/,
  );
  // Good values pass, and so does leaving everything to the profile.
  checkOptions({ runDir: "/tmp/r" });
  checkOptions({
    runDir: "/tmp/r",
    profile: "laptop",
    model: "mini",
    epochs: 3,
    lr: 0.01,
    modelOptions: { dropout: 0 },
    freeze: "features",
    featuresLrScale: 1,
  });
});

test("resolveSettings fills in the profile's defaults, leaves data to defaultDataset, and a resume keeps the saved settings", () => {
  const smoke = TRAIN_PROFILES.smoke;
  const s = resolveSettings({ runDir: "/tmp/r", epochs: 3 }, undefined);
  assert.equal(s.data, undefined, "no dataset was given: train() picks the default one, explicitly");
  assert.equal(s.profile, "smoke");
  assert.equal(s.epochs, 3);
  assert.equal(s.batchSize, smoke.batchSize);
  assert.equal(s.crop, smoke.crop);
  assert.equal(s.seed, 1);
  assert.deepEqual([s.freeze, s.featuresLrScale, s.cropsAndReflections], ["none", 1, true]);
  assert.equal(resolveSettings({ runDir: "/tmp/r", data: "rel/d", crop: 96 }, undefined).crop, 96);
  assert.match(String(resolveSettings({ runDir: "/tmp/r", data: "rel/d" }, undefined).data), /^\/.*rel\/d$/, "data is made absolute");

  const saved = { ...s, data: "/d" } as RunConfig;
  assert.deepEqual(resolveSettings({ runDir: "/tmp/r", epochs: 5 }, saved), { ...saved, epochs: 5 });
  assert.throws(
    () => resolveSettings({ runDir: "/tmp/r", batchSize: 4 }, saved),
    new RegExp(`started with batchSize ${smoke.batchSize}, but this call asks for 4`),
  );
});

test("defaultDataset is the profile's embedded set at the profile's records for its crop, else at 256/224 of the crop", async () => {
  const smoke = TRAIN_PROFILES.smoke;
  assert.equal(await defaultDataset("smoke", smoke.crop, { progress: "silent" }), embeddedDatasetDir("smoke", undefined, smoke.recordSize));
  assert.equal(await defaultDataset("smoke", 32, { progress: "silent" }), embeddedDatasetDir("smoke", undefined, 37));
});

test("makeSchedule builds the schedule a spec names, and refuses an unknown kind", () => {
  assert.ok(makeSchedule({ kind: "plateau", patience: 2, maxReductions: 3, factor: 0.1 }, 0.01, 10) instanceof PlateauSchedule);
  const step = makeSchedule({ kind: "step", every: 2, factor: 0.5 }, 0.1, 10);
  assert.ok(step instanceof StepSchedule);
  const rates = [0, 1, 2, 3].map(() => step.step(0.5).lr);
  assert.deepEqual(rates, [0.1, 0.05, 0.05, 0.025]);
  // One drop after 80% of 5 epochs: the rate falls once, after epoch 4.
  const drop = makeSchedule({ kind: "drop", after: 0.8, factor: 0.1 }, 0.02, 5);
  const dropped = [1, 2, 3, 4, 5].map(() => drop.step(0.5).lr);
  assert.equal(dropped.filter((lr) => lr < 0.02).length, 2, String(dropped));
  assert.ok(Math.abs(dropped[4] - 0.002) < 1e-12 && dropped[2] === 0.02, String(dropped));
  assert.throws(() => makeSchedule({ kind: "cosine" } as never, 0.1, 10), /schedule kind "cosine" is unknown/);
});
