import assert from "node:assert/strict";
import { test } from "node:test";
import { PlateauSchedule, restoreSchedule, roundRate, scheduleFromState, StepSchedule } from "../../lib/train/schedule";

function run(s: PlateauSchedule | StepSchedule, errors: number[]): number[] {
  return errors.map((e) => s.step(e).lr);
}

test("the plateau schedule divides by 10 after `patience` epochs without improvement, with the reason", () => {
  const s = new PlateauSchedule({ patience: 3 });
  assert.equal(s.lr, 0.01);
  const d1 = s.step(0.5);
  assert.deepEqual(d1, {
    epoch: 1,
    lr: 0.01,
    previousLr: 0.01,
    changed: false,
    reason: "val top-1 error 50.0% is the first measurement: lr stays 0.01",
  });
  assert.equal(s.step(0.418).reason, "val top-1 error 41.8% improved on 50.0%: lr stays 0.01");
  assert.equal(s.step(0.421).reason, "val top-1 error 42.1% did not improve on 41.8% for 1 epoch (patience 3): lr stays 0.01");
  assert.equal(s.step(0.425).lr, 0.01);
  const d5 = s.step(0.421);
  assert.deepEqual(d5, {
    epoch: 5,
    lr: 0.001,
    previousLr: 0.01,
    changed: true,
    reason: "val top-1 error 42.1% did not improve on 41.8% for 3 epochs: lr 0.01 -> 0.001",
  });
  assert.equal(s.reductions, 1);
  assert.equal(s.best, 0.418);
});

test("an improvement resets the patience count; the paper's maximum is three reductions", () => {
  const s = new PlateauSchedule({ patience: 2 });
  // 2 bad epochs -> reduce; improvement resets; 2 bad -> reduce; 2 bad -> reduce; then no more.
  const lrs = run(s, [0.6, 0.61, 0.55, 0.56, 0.57, 0.58, 0.59, 0.6, 0.61, 0.62, 0.63, 0.64, 0.65]);
  assert.deepEqual(lrs, [0.01, 0.01, 0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001, 0.00001, 0.00001, 0.00001, 0.00001, 0.00001]);
  assert.equal(s.reductions, 3);
  const last = s.step(0.66);
  assert.equal(last.changed, false);
  assert.match(
    last.reason,
    /did not improve on 55\.0% for \d+ epochs, but lr was already reduced 3 times \(maxReductions\): lr stays 0\.00001$/,
  );
});

test("minDelta: an improvement smaller than it does not count, and the reason prints enough decimals to tell values apart", () => {
  const s = new PlateauSchedule({ patience: 1, minDelta: 0.005 });
  s.step(0.42);
  const d = s.step(0.4199);
  assert.equal(d.lr, 0.001);
  assert.equal(d.reason, "val top-1 error 41.99% did not improve on 42.00% for 1 epoch: lr 0.01 -> 0.001");
  const plain = new PlateauSchedule({ patience: 1, metricName: "val loss", format: "number", initial: 0.1, factor: 0.5 });
  plain.step(2.5);
  assert.equal(plain.step(2.6).reason, "val loss 2.600 did not improve on 2.500 for 1 epoch: lr 0.1 -> 0.05");
});

test("the plateau schedule refuses bad options and a non-finite validation error", () => {
  assert.throws(() => new PlateauSchedule({ patience: 0 }), /patience must be an integer >= 1, got 0/);
  assert.throws(() => new PlateauSchedule({ factor: 10 }), /factor must be between 0 and 1 \(0\.1 divides by 10\), got 10/);
  assert.throws(() => new PlateauSchedule({ initial: -1 }), /initial must be a finite number > 0/);
  assert.throws(() => new PlateauSchedule().step(NaN), /val top-1 error must be a finite number, got NaN; evaluate the model/);
});

test("the step schedule is torchvision's: x0.1 every 30 epochs", () => {
  const s = new StepSchedule();
  assert.equal(s.lr, 0.01);
  assert.deepEqual(
    [0, 29, 30, 59, 60, 89, 90].map((e) => s.lrAt(e)),
    [0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001, 0.00001],
  );
  const lrs = run(new StepSchedule({ initial: 0.1, every: 2 }), [1, 1, 1, 1, 1]);
  assert.deepEqual(lrs, [0.1, 0.01, 0.01, 0.001, 0.001]);
  const t = new StepSchedule({ every: 2 });
  assert.equal(t.step().reason, "epoch 1 done: lr stays 0.01 (x0.1 every 2 epochs; next change after epoch 2)");
  assert.deepEqual(t.step(0.3), {
    epoch: 2,
    lr: 0.001,
    previousLr: 0.01,
    changed: true,
    reason: "epoch 2 done: lr 0.01 -> 0.001 (x0.1 every 2 epochs)",
  });
  assert.throws(() => new StepSchedule({ every: 0 }), /every must be an integer >= 1/);
});

test("a step schedule with maxSteps 1 drops once and says so; an old state without maxSteps keeps stepping", () => {
  const once = new StepSchedule({ initial: 0.005, every: 3, maxSteps: 1 });
  assert.deepEqual(run(once, [1, 1, 1, 1, 1, 1, 1]), [0.005, 0.005, 0.0005, 0.0005, 0.0005, 0.0005, 0.0005]);
  const fresh = new StepSchedule({ initial: 0.005, every: 3, maxSteps: 1 });
  fresh.step();
  fresh.step();
  assert.equal(fresh.step().reason, "epoch 3 done: lr 0.005 -> 0.0005 (x0.1 once, after epoch 3)");
  assert.equal(fresh.step().reason, "epoch 4 done: lr stays 0.0005 (x0.1 once, after epoch 3)");
  const restored = scheduleFromState(JSON.parse(JSON.stringify(once.getState())));
  assert.equal(restored.lr, 0.0005);
  const old = scheduleFromState({ kind: "step", initial: 0.1, factor: 0.1, every: 1, epoch: 2 });
  assert.equal(old.lr, 0.001);
  assert.throws(() => new StepSchedule({ maxSteps: 0 }), /maxSteps must be an integer >= 1/);
});

test("rates are rounded so 0.01 x 0.1^2 reads 0.0001", () => {
  assert.notEqual(0.01 * Math.pow(0.1, 2), 0.0001);
  assert.equal(roundRate(0.01 * Math.pow(0.1, 2)), 0.0001);
  assert.equal(roundRate(0.01 * Math.pow(0.1, 3)), 0.00001);
});

test("getState/setState continue a schedule exactly, through JSON", () => {
  const errors = [0.6, 0.61, 0.62, 0.5, 0.51, 0.52, 0.53, 0.54, 0.4, 0.41, 0.42, 0.43];
  const whole = new PlateauSchedule({ patience: 2 });
  const expected = errors.map((e) => whole.step(e));

  const first = new PlateauSchedule({ patience: 2 });
  const got = errors.slice(0, 5).map((e) => first.step(e));
  const saved = JSON.parse(JSON.stringify(first.getState()));
  const resumed = new PlateauSchedule({ patience: 7 }); // options come from the state
  resumed.setState(saved);
  got.push(...errors.slice(5).map((e) => resumed.step(e)));
  assert.deepEqual(got, expected);
  assert.deepEqual(resumed.getState(), whole.getState());

  const step = new StepSchedule({ every: 3 });
  step.step();
  step.step();
  const back = scheduleFromState(JSON.parse(JSON.stringify(step.getState())));
  assert.ok(back instanceof StepSchedule);
  assert.deepEqual(run(back, [0, 0, 0, 0]), run(step, [0, 0, 0, 0]));
  assert.ok(scheduleFromState(whole.getState()) instanceof PlateauSchedule);
});

test("a state restores only into its own kind of schedule, and bad states are refused", () => {
  const plateau = new PlateauSchedule();
  const step = new StepSchedule();
  assert.throws(() => restoreSchedule(plateau, step.getState()), /saved schedule is a "step" schedule but this one is a PlateauSchedule/);
  assert.throws(() => restoreSchedule(step, plateau.getState()), /saved schedule is a "plateau" schedule but this one is a StepSchedule/);
  assert.throws(() => plateau.setState({ ...plateau.getState(), badEpochs: -1 }), /badEpochs must be an integer >= 0/);
  assert.throws(() => scheduleFromState({ kind: "cosine" } as never), /unknown schedule kind "cosine"/);
  restoreSchedule(step, { ...step.getState(), epoch: 30 });
  assert.equal(step.lr, 0.001);
});
