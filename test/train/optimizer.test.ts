import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../lib/engine/select";
import {
  PAPER_LEARNING_RATE,
  PAPER_MOMENTUM,
  PAPER_WEIGHT_DECAY,
  isPaperSGD,
  PaperSGD,
  paperUpdate,
  pytorchBufferFromVelocity,
  pytorchSgdUpdate,
  velocityFromPytorchBuffer,
} from "../../lib/train/optimizer";
import { tensorBytes } from "../helpers/train";

before(async () => {
  await selectEngine({ force: "cpu" });
});

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `index ${i}: got ${actual[i]}, expected ${expected[i]}`);
  }
}

let counter = 0;

/**
 * Two steps on a weight w (shape [1,2]) and a bias b (shape [2]), both starting
 * at [1, -2], with gradients [0.5, 0.5] then [1, -1]; lr 0.1, momentum 0.9 and
 * an exaggerated weight decay of 0.5 so every term shows.
 */
function twoSteps(options: ConstructorParameters<typeof PaperSGD>[0]): { w: number[]; b: number[]; vw: number[]; vb: number[] } {
  const id = `hand${counter++}`;
  const w = tf.variable(tf.tensor2d([[1, -2]]), true, `${id}/kernel`);
  const b = tf.variable(tf.tensor1d([1, -2]), true, `${id}/bias`);
  const opt = new PaperSGD({ learningRate: 0.1, momentum: 0.9, weightDecay: 0.5, ...options });
  for (const g of [
    [0.5, 0.5],
    [1, -1],
  ]) {
    const grads = { [w.name]: tf.tensor2d([g]), [b.name]: tf.tensor1d(g) };
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const out = {
    w: Array.from(w.dataSync()),
    b: Array.from(b.dataSync()),
    vw: Array.from(opt.velocityOf(w.name)!.dataSync()),
    vb: Array.from(opt.velocityOf(b.name)!.dataSync()),
  };
  assert.equal(opt.stepsTaken, 2);
  opt.dispose();
  tf.dispose([w, b]);
  return out;
}

// By hand, weight: v1 = -0.1*0.5*[1,-2] - 0.1*[0.5,0.5] = [-0.1, 0.05], w1 = [0.9, -1.95];
// v2 = 0.9*v1 - 0.05*w1 - 0.1*[1,-1] = [-0.235, 0.2425], w2 = [0.665, -1.7075].
// Bias without decay: v1 = [-0.05,-0.05], b1 = [0.95,-2.05]; v2 = [-0.145, 0.055], b2 = [0.805, -1.995].
test("two steps of the paper's update match a hand computation; biases are not decayed by default", () => {
  const r = twoSteps({});
  close(r.vw, [-0.235, 0.2425]);
  close(r.w, [0.665, -1.7075]);
  close(r.vb, [-0.145, 0.055]);
  close(r.b, [0.805, -1.995]);
});

test("decayBiases: true applies the formula to biases as to weights", () => {
  const r = twoSteps({ decayBiases: true });
  close(r.b, [0.665, -1.7075]);
  close(r.vb, [-0.235, 0.2425]);
  close(r.w, [0.665, -1.7075]);
});

// Bias at lr 0.2: v1 = [-0.1,-0.1], b1 = [0.9,-2.1]; v2 = 0.9*v1 - 0.2*[1,-1] = [-0.29, 0.11], b2 = [0.61, -1.99].
test("lrMultipliers scale the learning rate of the variables they name", () => {
  const seen: string[] = [];
  const r = twoSteps({
    lrMultipliers: (name) => {
      seen.push(name);
      return name.endsWith("/bias") ? 2 : 1;
    },
  });
  close(r.b, [0.61, -1.99]);
  close(r.w, [0.665, -1.7075]);
  assert.ok(seen.some((n) => n.endsWith("/kernel")) && seen.some((n) => n.endsWith("/bias")));
  const frozen = twoSteps({ lrMultipliers: (name) => (name.endsWith("/kernel") ? 0 : 1) });
  close(frozen.w, [1, -2], 0);
});

test("one step with multiplier 0.1 is the paper's step at 0.1 times the rate, and moves the weight 0.1x as far", () => {
  const h = { lr: 0.1, momentum: 0.9, weightDecay: 0.5 };
  const w0 = [1, -2, 0.25];
  const g = [0.5, 0.5, -4];
  const moved = (multiplier: number): number[] => {
    const w = tf.variable(tf.tensor1d(w0), true, `mult${counter++}/kernel`);
    const opt = new PaperSGD({
      learningRate: h.lr,
      momentum: h.momentum,
      weightDecay: h.weightDecay,
      isBias: () => false,
      lrMultipliers: () => multiplier,
    });
    const grad = tf.tensor1d(g);
    opt.applyGradients({ [w.name]: grad });
    const out = Array.from(w.dataSync());
    opt.dispose();
    tf.dispose([w, grad]);
    return out;
  };
  // By hand: v = -0.01*0.5*w0 - 0.01*g = [-0.01, 0.005, 0.03875]; w = w0 + v.
  const expected = paperUpdate(w0, [0, 0, 0], g, { ...h, lr: 0.01 });
  close(expected.v, [-0.01, 0.005, 0.03875], 1e-12);
  // Tolerance: float32 rounding of values near 2 (half an ulp is 1.2e-7).
  const slow = moved(0.1);
  close(slow, expected.w, 3e-7);
  const full = moved(1);
  close(full, paperUpdate(w0, [0, 0, 0], g, h).w, 3e-7);
  close(
    slow.map((x, i) => x - w0[i]),
    full.map((x, i) => 0.1 * (x - w0[i])),
    3e-7,
  );
});

test("paperUpdate computes the same two steps in float64", () => {
  const h = { lr: 0.1, momentum: 0.9, weightDecay: 0.5 };
  const s1 = paperUpdate([1, -2], [0, 0], [0.5, 0.5], h);
  const s2 = paperUpdate(s1.w, s1.v, [1, -1], h);
  close(s2.v, [-0.235, 0.2425], 1e-12);
  close(s2.w, [0.665, -1.7075], 1e-12);
  assert.throws(() => paperUpdate([1], [0, 0], [1], h), /v has 2 values but w has 1/);
});

test("the defaults are the paper's: lr 0.01, momentum 0.9, weight decay 0.0005, biases not decayed", () => {
  const opt = new PaperSGD();
  assert.deepEqual(opt.getConfig(), { learningRate: 0.01, momentum: 0.9, weightDecay: 0.0005, decayBiases: false });
  assert.equal(PAPER_LEARNING_RATE, 0.01);
  assert.equal(PAPER_MOMENTUM, 0.9);
  assert.equal(PAPER_WEIGHT_DECAY, 0.0005);
  const copy = PaperSGD.fromConfig(PaperSGD, { ...opt.getConfig(), learningRate: 0.001, decayBiases: true }) as PaperSGD;
  assert.equal(copy.learningRate, 0.001);
  assert.equal(copy.decayBiases, true);
  assert.equal(copy.getClassName(), "PaperSGD");
});

test("with a constant learning rate PyTorch's SGD is the same rule under v = -lr b; a rate change is where they part", () => {
  const h = { lr: 0.05, momentum: 0.9, weightDecay: 0.01 };
  let paper = { w: [0.3, -0.7, 1.1], v: [0, 0, 0] };
  let torch = { w: [0.3, -0.7, 1.1], buf: [0, 0, 0] };
  const grads = [
    [0.2, -0.1, 0.4],
    [-0.3, 0.5, 0.1],
    [0.05, 0.05, -0.2],
    [0.6, -0.4, 0.3],
  ];
  for (const g of grads) {
    paper = paperUpdate(paper.w, paper.v, g, h);
    torch = pytorchSgdUpdate(torch.w, torch.buf, g, h);
    close(torch.w, paper.w, 1e-12);
    close(velocityFromPytorchBuffer(torch.buf, h.lr), paper.v, 1e-12);
    close(pytorchBufferFromVelocity(paper.v, h.lr), torch.buf, 1e-12);
  }
  // Divide lr by 10: PyTorch's buffer holds lr-free gradients, so its whole momentum shrinks at once.
  const lower = { ...h, lr: h.lr / 10 };
  const p = paperUpdate(paper.w, paper.v, grads[0], lower);
  const t = pytorchSgdUpdate(torch.w, torch.buf, grads[0], lower);
  const gap = Math.max(...p.w.map((x, i) => Math.abs(x - t.w[i])));
  assert.ok(gap > 1e-3, `expected the rules to part after a rate change, gap ${gap}`);
});

test("PaperSGD matches tf.train.momentum with an L2 term (wd/2)|w|^2 in the loss, at a constant rate", () => {
  const lr = 0.05;
  const wd = 0.01;
  const x = tf.tensor2d([
    [1, 2],
    [3, -1],
    [0.5, 0.5],
    [-2, 1],
  ]);
  const y = tf.tensor2d([[1], [0], [2], [-1]]);
  const run = (useTfMomentum: boolean): Float32Array => {
    const id = `l2-${counter++}`;
    const w = tf.variable(tf.tensor2d([[0.1], [-0.2]]), true, `${id}/kernel`);
    const opt = useTfMomentum
      ? tf.train.momentum(lr, 0.9)
      : new PaperSGD({ learningRate: lr, momentum: 0.9, weightDecay: wd, decayBiases: true });
    for (let i = 0; i < 6; i++) {
      tf.tidy(() => {
        opt.minimize(() => {
          const mse = tf.losses.meanSquaredError(y, tf.matMul(x, w));
          return (useTfMomentum ? tf.add(mse, tf.mul(wd / 2, tf.sum(tf.square(w)))) : mse) as tf.Scalar;
        });
      });
    }
    const out = w.dataSync() as Float32Array;
    opt.dispose();
    w.dispose();
    return out;
  };
  const a = run(false);
  const b = run(true);
  close(a, Array.from(b), 1e-6);
  tf.dispose([x, y]);
});

test("state: getState/setState and getWeights/setWeights restore velocities and the step count", async () => {
  const w = tf.variable(
    tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    true,
    `state${counter++}/kernel`,
  );
  const opt = new PaperSGD({ learningRate: 0.1 });
  const g = tf.ones([2, 2]);
  opt.applyGradients({ [w.name]: g });
  opt.applyGradients([{ name: w.name, tensor: g }]);
  const velocity = tensorBytes(opt.velocityOf(w.name)!);

  const viaState = new PaperSGD();
  viaState.setState(opt.getState());
  assert.equal(viaState.learningRate, 0.1);
  assert.equal(viaState.stepsTaken, 2);
  assert.ok(tensorBytes(viaState.velocityOf(w.name)!).equals(velocity));

  const weights = await opt.getWeights();
  assert.deepEqual(
    weights.map((x) => x.name),
    ["iter", `${w.name}/velocity`],
  );
  const viaWeights = new PaperSGD();
  await viaWeights.setWeights(weights);
  assert.equal(viaWeights.stepsTaken, 2);
  assert.deepEqual(viaWeights.velocityNames(), [w.name]);
  assert.ok(tensorBytes(viaWeights.velocityOf(w.name)!).equals(velocity));
  weights[0].tensor.dispose();
  await assert.rejects(
    viaWeights.setWeights([
      { name: "iter", tensor: tf.scalar(1) },
      { name: "x", tensor: g },
    ]),
    /"x" is not a velocity/,
  );

  for (const o of [opt, viaState, viaWeights]) o.dispose();
  tf.dispose([w, g]);
});

test("bad settings and unknown variables are refused with the fix", () => {
  assert.throws(() => new PaperSGD({ learningRate: -1 }), /learningRate must be a finite number >= 0, got -1/);
  assert.throws(() => new PaperSGD({ momentum: NaN }), /momentum must be a finite number >= 0/);
  const opt = new PaperSGD({ lrMultipliers: () => -2 });
  const w = tf.variable(tf.zeros([2]), true, `bad${counter++}/bias`);
  const g = tf.ones([2]);
  assert.throws(
    () => opt.applyGradients({ [w.name]: g }),
    new RegExp(`lrMultipliers\\("${w.name}"\\) returned -2; return a finite number >= 0`),
  );
  assert.throws(() => new PaperSGD().applyGradients({ "no/such/variable": g }), /no variable named "no\/such\/variable" is registered/);
  assert.throws(() => opt.setVelocity(w.name, tf.zeros([3])), /has shape \[2\] but the velocity has shape \[3\]/);
  opt.dispose();
  tf.dispose([w, g]);
});

test("the update creates no tensors beyond one velocity per variable, step after step", () => {
  const w = tf.variable(tf.randomNormal([3, 3], 0, 1, "float32", 7), true, `count${counter++}/kernel`);
  const g = tf.randomNormal([3, 3], 0, 1, "float32", 8);
  const opt = new PaperSGD();
  const start = tf.memory().numTensors;
  opt.applyGradients({ [w.name]: g });
  const afterFirst = tf.memory().numTensors;
  assert.equal(afterFirst, start + 1);
  for (let i = 0; i < 5; i++) opt.applyGradients({ [w.name]: g });
  assert.equal(tf.memory().numTensors, afterFirst);
  opt.dispose();
  assert.equal(tf.memory().numTensors, start);
  tf.dispose([w, g]);
});

test("isPaperSGD tells PaperSGD from other optimizers, which `instanceof PaperSGD` cannot", () => {
  const other = tf.train.momentum(0.01, 0.9);
  assert.equal(other instanceof PaperSGD, true); // tf.Optimizer's Symbol.hasInstance is duck-typed
  assert.equal(isPaperSGD(other), false);
  assert.equal(isPaperSGD(new PaperSGD()), true);
  assert.equal(isPaperSGD(undefined), false);
});

test("PaperSGD works with model.compile and fit, and is registered for tfjs serialization", async () => {
  assert.ok(tf.serialization.SerializationMap.getMap().classNameMap.PaperSGD);
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, kernelInitializer: "zeros" })] });
  const opt = new PaperSGD({ learningRate: 0.1 });
  model.compile({ optimizer: opt, loss: "meanSquaredError" });
  const xs = tf.tensor2d([
    [1, 0],
    [0, 1],
  ]);
  const ys = tf.tensor2d([[1], [-1]]);
  await model.fit(xs, ys, { epochs: 3, batchSize: 2, verbose: 0 });
  assert.equal(opt.stepsTaken, 3);
  const kernel = model.getWeights()[0].dataSync();
  assert.ok(kernel[0] > 0 && kernel[1] < 0, `kernel moved the wrong way: ${kernel}`);
  model.dispose();
  opt.dispose();
  tf.dispose([xs, ys]);
});
