import assert from "node:assert/strict";
import { test } from "node:test";
import { planAlexNet } from "../../lib/model/alexnet";
import { PROFILES } from "../../lib/profiles";
import { describeSchedule, dropEpoch, profilesTable, recordSizeFor, TRAIN_PROFILES, trainProfile } from "../../lib/train/profiles";

test("record sizes keep the paper's 224/256 crop ratio", () => {
  assert.equal(recordSizeFor(224), 256);
  assert.equal(recordSizeFor(128), 146);
  assert.equal(recordSizeFor(64), 73);
  assert.throws(() => recordSizeFor(0), /inputSize must be a positive integer/);
});

test("the paper profile is the paper's recipe (section 5)", () => {
  const p = trainProfile("paper");
  assert.deepEqual(
    {
      model: p.model,
      init: p.modelOptions.init,
      crop: p.crop,
      record: p.recordSize,
      batch: p.batchSize,
      lr: p.lr,
      momentum: p.momentum,
      wd: p.weightDecay,
      epochs: p.epochs,
      scale: p.inputScale,
      lighting: p.lighting,
    },
    {
      model: "paper",
      init: "paper",
      crop: 224,
      record: 256,
      batch: 128,
      lr: 0.01,
      momentum: 0.9,
      wd: 0.0005,
      epochs: 90,
      scale: 1,
      lighting: 0.1,
    },
  );
  assert.deepEqual(p.schedule.kind === "plateau" ? [p.schedule.factor, p.schedule.maxReductions] : [], [0.1, 3]);
});

test("every profile's crop is its network's input and fits its records", () => {
  for (const name of PROFILES) {
    const p = TRAIN_PROFILES[name];
    assert.equal(p.name, name);
    assert.equal(planAlexNet(p.model, p.modelOptions).inputSize, p.crop, name);
    assert.equal(p.recordSize, recordSizeFor(p.crop), name);
  }
  assert.equal(TRAIN_PROFILES.smoke.model, "mini");
  assert.equal(TRAIN_PROFILES.laptop.model, "mini");
  assert.throws(() => trainProfile("desktop"), /unknown profile 'desktop': use one of smoke, laptop, paper/);
});

test("a drop schedule falls after the given fraction of the run, never at its very end", () => {
  assert.equal(dropEpoch(0.8, 4), 3);
  assert.equal(dropEpoch(0.8, 5), 4);
  assert.equal(dropEpoch(0.8, 60), 48);
  assert.equal(dropEpoch(0.8, 2), 1);
  assert.equal(dropEpoch(0.8, 1), 1);
  assert.equal(dropEpoch(0.1, 3), 1);
  assert.throws(() => dropEpoch(1, 10), /after is a fraction of the epochs, between 0 and 1/);
  assert.equal(describeSchedule({ kind: "drop", after: 0.8, factor: 0.1 }, 4), "×0.1 once, after epoch 3 of 4");
  assert.equal(describeSchedule({ kind: "drop", after: 0.8, factor: 0.1 }), "×0.1 once, after 80% of the epochs");
  assert.equal(describeSchedule({ kind: "step", every: 30, factor: 0.1 }), "×0.1 every 30 epochs");
  assert.equal(describeSchedule(TRAIN_PROFILES.paper.schedule), "÷10 when val error stalls 5 epochs, at most 3×");
});

test("the laptop recipe: the mini network on the embedded set's records at 146, lr 0.005 dropped once, 4 epochs", () => {
  const p = trainProfile("laptop");
  assert.deepEqual(
    { crop: p.crop, record: p.recordSize, lr: p.lr, epochs: p.epochs, schedule: p.schedule, dropout: p.modelOptions.dropout },
    { crop: 128, record: 146, lr: 0.005, epochs: 4, schedule: { kind: "drop", after: 0.8, factor: 0.1 }, dropout: 0 },
  );
});

test("profilesTable sets the paper's section 5 next to each profile's values", () => {
  const t = profilesTable();
  assert.deepEqual(t.header, ["setting", "paper (section 5)", "paper profile", "laptop profile", "smoke profile"]);
  const row = (setting: string) => t.rows.find((r) => r[0] === setting);
  assert.deepEqual(row("batch"), ["batch", 128, 128, 32, 16]);
  assert.deepEqual(row("input crop"), ["input crop", "224 from 256", "224 from 256", "128 from 146", "64 from 73"]);
  assert.deepEqual(row("schedule")?.slice(2), [
    describeSchedule(TRAIN_PROFILES.paper.schedule, 90),
    "×0.1 once, after epoch 3 of 4",
    "×0.1 once, after epoch 1 of 2",
  ]);
  assert.deepEqual(row("dropout"), ["dropout", 0.5, 0.5, 0, 0], "the paper profile leaves dropout at the model's default, 0.5");
  assert.deepEqual(row("initialization")?.slice(2), ["paper", "he", "he"]);
  assert.equal(t.rows.length, 12);
  assert.ok(
    t.rows.every((r) => r.length === t.header.length),
    "every row has a value under every heading",
  );
});

test("profilesTable reads the profiles it is given", () => {
  const tweaked = {
    ...TRAIN_PROFILES.laptop,
    name: "laptop" as const,
    batchSize: 64,
    modelOptions: { ...TRAIN_PROFILES.laptop.modelOptions, dropout: undefined },
  };
  const t = profilesTable([tweaked]);
  assert.deepEqual(t.header, ["setting", "paper (section 5)", "laptop profile"]);
  assert.deepEqual(
    t.rows.find((r) => r[0] === "batch"),
    ["batch", 128, 64],
  );
  assert.deepEqual(
    t.rows.find((r) => r[0] === "dropout"),
    ["dropout", 0.5, 0.5],
    "an unset dropout is the model's default",
  );
});
