// The claims harness: each claim changes one setting, shared configurations train once,
// finished runs are kept across an interruption, and a model at chance is flagged.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { buildAlexNet } from "../../lib/model/alexnet";
import { buildFigure1Net } from "../../lib/model/figure1";
import { prepareDataset } from "../../lib/data/prepare";
import { openSource } from "../../lib/data/sources/index";
import { trainProfile } from "../../lib/train/profiles";
import { isGreyscale, reproduce, settingsKey } from "../../lib/claims/harness";
import { PAPER_CLAIMS, claimById, differingSettings } from "../../lib/claims/paper-claims";
import { type RunRecord, convergence, epochsToTarget, learnedGate } from "../../lib/claims/reading";
import { CLAIMS_COLUMNS, claimsRows, claimsTable } from "../../lib/claims/table";
import { closeEvalTarget, evaluateProtocols, openEvalTarget } from "../../lib/eval/report";
import { tempDir } from "../helpers/notebooks";
import { idxBytes, idxImages, put } from "../helpers/sources";
import { prepareTinySet } from "../helpers/train";

const tmp = tempDir("alexnet-claims-");
const data = path.join(tmp.dir, "data");
before(() => prepareTinySet(data, { seed: 3, classes: 10, trainPerClass: 2, valPerClass: 1 }));
after(() => tmp.cleanup());

test("each claim's two configurations differ in exactly the setting it names", () => {
  for (const c of PAPER_CLAIMS) assert.deepEqual(differingSettings(c.control.settings, c.treatment.settings), [c.setting], c.id);
  assert.deepEqual(differingSettings({ modelOptions: { lrn: true } }, { modelOptions: { lrn: true }, lighting: 0 }), ["lighting"]);
  assert.throws(() => claimById("relu6x"), /unknown claim "relu6x"; the claims are: relu, lrn, /);
});

test("a claim about the network builds two different networks; one about training builds the same", () => {
  const recipe = trainProfile("smoke");
  const layers = (s: { modelOptions?: object }) => {
    const m = buildAlexNet("mini", { ...recipe.modelOptions, numClasses: 10, widthMultiplier: 0.125, fcUnits: 16, ...s.modelOptions });
    const json = JSON.stringify(m.toJSON(null, false));
    m.dispose();
    return json;
  };
  const figure1 = (s: { activation?: "relu" | "tanh" }) => {
    const m = buildFigure1Net({ activation: s.activation!, seed: 1 });
    const json = JSON.stringify(m.toJSON(null, false));
    m.dispose();
    return json;
  };
  for (const c of PAPER_CLAIMS) {
    if (c.figure1) {
      assert.notEqual(figure1(c.control.settings), figure1(c.treatment.settings), c.id);
      continue;
    }
    const differ = layers(c.control.settings) !== layers(c.treatment.settings);
    assert.equal(differ, c.setting.startsWith("modelOptions."), c.id);
  }
});

test("settingsKey names a run by how it differs from the recipe, so claims share the recipe's runs", () => {
  assert.equal(settingsKey(claimById("lrn").treatment.settings, "laptop"), "recipe");
  assert.equal(settingsKey(claimById("pooling").treatment.settings, "laptop"), "recipe");
  assert.equal(settingsKey(claimById("dropout").control.settings, "laptop"), "recipe", "the laptop recipe has no dropout");
  assert.equal(settingsKey(claimById("dropout").treatment.settings, "paper"), "recipe", "the paper's has");
  assert.equal(settingsKey(claimById("lrn").control.settings, "laptop"), "lrn-false");
  assert.equal(settingsKey(claimById("crops").control.settings, "laptop"), "centre-crops");
  assert.equal(settingsKey(claimById("lighting").control.settings, "laptop"), "lighting-0");
  assert.equal(settingsKey(claimById("ten-patch").treatment.settings, "laptop"), "recipe", "the test protocol does not change the run");
  assert.equal(settingsKey(claimById("towers").treatment.settings, "laptop"), "recipe");
  assert.equal(settingsKey(claimById("depth").treatment.settings, "laptop"), "recipe");
  assert.equal(settingsKey(claimById("biases").treatment.settings, "laptop"), "hiddenBias-1_init-paper_inputScale-1");
  // The paper profile's recipe is the paper's initialisation with biases of 1: that arm is the recipe, trained once.
  assert.equal(settingsKey(claimById("biases").treatment.settings, "paper"), "recipe");
  assert.equal(settingsKey(claimById("biases").control.settings, "paper"), "hiddenBias-0");
  assert.equal(settingsKey(claimById("dropout").control.settings, "paper"), "dropout-0");
});

test("learnedGate: a seed is readable when either configuration learned; two models at chance are not", () => {
  const run = (valTop1Error: number, trainTop1Error: number, seed = 1): RunRecord => ({
    key: "k",
    seed,
    valTop1Error,
    valTop5Error: 0,
    trainTop1Error,
    trainCentreTop1Error: trainTop1Error,
    firstTrainTop1Error: 0.9,
    epochs: 10,
    seconds: 1,
  });
  // An ablation that learns worse than the recipe (pooling 2/2 at 48% against chance 90%) is the effect, not a failure to learn.
  assert.equal(learnedGate([run(0.48, 0.4), run(0.41, 0.4, 2)], [run(0.33, 0.3), run(0.3, 0.3, 2)], 0.9).ok, true);
  // Seed 2: both at chance.
  const both = learnedGate([run(0.3, 0.3), run(0.9, 0.89, 2)], [run(0.3, 0.3), run(0.89, 0.9, 2)], 0.9);
  assert.equal(both.ok, false);
  // Below half of chance but training error never fell (0.9 after the first epoch and at the end): not learned.
  assert.equal(learnedGate([run(0.4, 0.9)], [run(0.4, 0.95)], 0.9).ok, false);
  assert.equal(learnedGate([], [], 0.9).ok, false);
  assert.equal(learnedGate([run(0.6, 0.5)], [run(0.2, 0.1)], 0.9).valTop1Error, 0.2, "the mean of the configuration that learned");
});

test("epochsToTarget: interpolated between epochs from chance, the budget when never reached", () => {
  // Epoch 1 at 60%, epoch 2 at 40%: 45% is crossed three quarters of the way through epoch 2.
  assert.deepEqual(epochsToTarget([0.6, 0.4], 0.45, 0.9), { epochs: 1.75, reached: true });
  // Crossed in the first epoch: from chance (90%) before it to 30% after it.
  const first = epochsToTarget([0.3, 0.2], 0.45, 0.9);
  assert.ok(first.reached && Math.abs(first.epochs - 0.75) < 1e-12, `0.75, got ${first.epochs}`);
  assert.deepEqual(epochsToTarget([0.6, 0.45], 0.45, 0.9), { epochs: 2, reached: true }, "at the target counts as reached");
  assert.deepEqual(epochsToTarget([0.6, 0.5, 0.5], 0.45, 0.9), { epochs: 3, reached: false }, "censored at the budget");
  assert.ok(Number.isNaN(epochsToTarget(undefined, 0.45, 0.9).epochs), "no curve, no figure");
});

test("convergence: epochs until within a tenth of the improvement both configurations reached, seed by seed", () => {
  const run = (seed: number, valTop1ByEpoch: number[]): RunRecord => ({
    key: "k",
    seed,
    valTop1Error: valTop1ByEpoch.at(-1)!,
    valTop5Error: 0,
    trainTop1Error: 0,
    trainCentreTop1Error: 0,
    firstTrainTop1Error: 0.9,
    epochs: valTop1ByEpoch.length,
    seconds: 1,
    valTop1ByEpoch,
  });
  // Seed 1: the control gets to 0.2 at best, the treatment to 0.4; the worse, 0.4, is the level both reached,
  // so the mark is 0.4 + 0.1 * (0.9 - 0.4) = 0.45 (chance 0.9).
  const control = [run(1, [0.5, 0.3, 0.2, 0.2]), run(2, [0.9, 0.9, 0.9, 0.1])];
  const treatment = [run(1, [0.8, 0.7, 0.6, 0.4]), run(2, [0.5, 0.1, 0.1, 0.1])];
  const toTarget = convergence(control, treatment, 0.9);
  // The control: from chance 0.9 to 0.5 in epoch 1, so 0.45 is crossed after epoch 1, at 1 + 0.05 / 0.2 = 1.25.
  assert.ok(Math.abs(toTarget(control[0]).epochs - 1.25) < 1e-12);
  // The treatment: 0.6 after epoch 3, 0.4 after epoch 4, so 0.45 three quarters of the way through epoch 4.
  assert.deepEqual(toTarget(treatment[0]), { epochs: 3.75, reached: true });
  // Seed 2: both reach 0.1, so the mark is 0.18, for seed 2 alone; the control gets there late, the treatment early.
  assert.ok(Math.abs(toTarget(control[1]).epochs - (3 + (0.9 - 0.18) / 0.8)) < 1e-12);
  assert.ok(Math.abs(toTarget(treatment[1]).epochs - (1 + (0.5 - 0.18) / 0.4)) < 1e-12);
  // Both arms reach the mark by construction: no run is counted at the budget.
  for (const r of [...control, ...treatment]) assert.equal(toTarget(r).reached, true);
  assert.ok(Number.isNaN(toTarget(run(3, [0.1])).epochs), "no runs of that seed, no mark");
  assert.ok(Number.isNaN(convergence(control, [run(1, [])], 0.9)(control[0]).epochs), "an empty curve gives no mark");
});

test("isGreyscale: equal channels and a covariance of one value", () => {
  assert.equal(
    isGreyscale({
      channelMean: [70, 70, 70],
      covariance: [
        [5, 5, 5],
        [5, 5, 5],
        [5, 5, 5],
      ],
    }),
    true,
  );
  assert.equal(
    isGreyscale({
      channelMean: [70, 71, 70],
      covariance: [
        [5, 5, 5],
        [5, 5, 5],
        [5, 5, 5],
      ],
    }),
    false,
  );
  assert.equal(
    isGreyscale({
      channelMean: [70, 70, 70],
      covariance: [
        [5, 4, 5],
        [4, 5, 5],
        [5, 5, 5],
      ],
    }),
    false,
  );
});

test("reproduce --profile smoke: every claim measured over two seeds, the recipe trained once per seed, kept across an interruption", async () => {
  const dir = path.join(tmp.dir, "claims");
  const seeds = [1, 2];
  // Stop during the second training run; the first is kept.
  const controller = new AbortController();
  const first = await reproduce({
    profile: "smoke",
    data,
    seeds,
    dir,
    workers: 0,
    signal: controller.signal,
    onRun: (r) => r.index === 1 && controller.abort(),
  });
  assert.equal(first.status, "interrupted");
  const finished = () => JSON.parse(readFileSync(path.join(dir, "finished.json"), "utf8")).runs as { key: string; seed: number }[];
  assert.equal(finished().length, 1);

  const runs: { kept: boolean; configuration: string }[] = [];
  const report = await reproduce({ profile: "smoke", data, seeds, dir, workers: 0, onRun: (r) => runs.push(r) });
  assert.equal(report.status, "completed");
  assert.equal(runs.filter((r) => r.kept).length, 1, "the finished run is not trained again");
  // Distinct trainings, each once per seed: the recipe and one per changed setting.
  const keys = [
    "centre-crops",
    "dropout-0.5",
    "hiddenBias-0_init-paper_inputScale-1",
    "hiddenBias-1_init-paper_inputScale-1",
    "lighting-0",
    "lrn-false",
    "omitConv-conv4",
    "pooling-non-overlapping",
    "recipe",
    "towers-1",
  ];
  assert.deepEqual([...new Set(finished().map((r) => r.key))].sort(), keys);
  assert.equal(finished().length, keys.length * seeds.length);

  assert.deepEqual(
    report.claims.map((c) => c.id),
    PAPER_CLAIMS.map((c) => c.id),
  );
  for (const c of report.claims) {
    assert.equal(c.status, "measured", c.id);
    assert.equal(c.configurations.length, 2, c.id);
    assert.equal(c.figures.length + (c.unmeasured?.length ?? 0), claimById(c.id).figures.length, c.id);
    // Two 1-epoch runs on 20 images do not learn: the harness must say so rather than read verdicts.
    assert.equal(c.learned.ok, false, c.id);
    for (const f of c.figures) {
      assert.ok(["reproduced", "opposite", "below resolution"].includes(f.verdict));
      assert.equal(f.reading, "not read", "what the table shows and the prose quotes");
      assert.ok(Number.isFinite(f.effect.mean), `${c.id} ${f.metric}`);
    }
  }
  // LRN's effect is the paired difference of the two runs' validation errors.
  const lrn = report.claims.find((c) => c.id === "lrn")!;
  const byKey = (key: string) => finished().filter((r) => r.key === key) as unknown as { seed: number; valTop1Error: number }[];
  const expected = seeds.map(
    (s) => byKey("recipe").find((r) => r.seed === s)!.valTop1Error - byKey("lrn-false").find((r) => r.seed === s)!.valTop1Error,
  );
  assert.deepEqual((lrn.figures[0].effect as { perSeed: number[] }).perSeed, expected);
  // ReLU against tanh: Figure 1's network, a log-ratio of steps; on this budget neither reaches 25%.
  const relu = report.claims.find((c) => c.id === "relu")!;
  assert.equal(relu.figures[0].effect.kind, "log-ratio");
  assert.equal(relu.learned.ok, false);
  assert.deepEqual(
    relu.configurations.map((c) => c.name),
    ["ReLU", "tanh"],
  );
  assert.equal(JSON.parse(readFileSync(path.join(dir, "finished.json"), "utf8")).figure1.length, 2 * seeds.length);
  // Ten patches against the centre: paired by image, each image answered by both seeds' models.
  const ten = report.claims.find((c) => c.id === "ten-patch")!;
  assert.equal(ten.figures[0].effect.kind, "mcnemar");
  assert.deepEqual(
    [(ten.figures[0].effect as { images: number }).images, (ten.figures[0].effect as { seeds: number }).seeds],
    [report.data.val, seeds.length],
  );

  const table = claimsTable(report);
  const [rows, notes] = table.split("\n\n");
  assert.match(
    notes,
    /overfittingGap is validation top-1 minus training top-1, both of the last epoch's model in inference mode/,
    "the gap rows say what their training error is",
  );
  assert.equal(
    rows.split("\n").length,
    2 + PAPER_CLAIMS.reduce((n, c) => n + c.figures.length, 0),
    "every figure has a row, measured or not",
  );
  assert.match(
    notes,
    /^ReLUs train faster than tanh units \(Figure 1\): .*as given, shrunk in memory from 73x73 to Figure 1's 32x32\.$/m,
    "the claim on other data says which, and at what size",
  );
  assert.match(table, /not read: in some seed neither configuration learned/);
  // The gap is read on the training images in inference mode, not on the batches as trained.
  const rec = (finished() as unknown as RunRecord[]).find((r) => r.key === "recipe" && r.seed === 1)!;
  const target = await openEvalTarget(path.join(dir, "runs", "recipe-seed1"), { checkpoint: "last" });
  try {
    const e = await evaluateProtocols(target, ["center"], { split: "train", workers: 0 });
    assert.equal(e.center!.count, report.data.train);
    assert.equal(rec.trainCentreTop1Error, e.center!.top1Error, "the last model's error on the training split, centre patch");
  } finally {
    await closeEvalTarget(target);
  }
  const dropout = report.claims.find((c) => c.id === "dropout")!;
  const gap = dropout.figures.find((f) => f.metric === "overfittingGap")!;
  const recipeGaps = seeds
    .map((s) => (finished() as unknown as RunRecord[]).find((r) => r.key === "recipe" && r.seed === s)!)
    .map((r) => r.valTop1Error - r.trainCentreTop1Error);
  assert.deepEqual(dropout.configurations[1].overfittingGap!.mean, recipeGaps.reduce((a, b) => a + b) / seeds.length);
  assert.equal(gap.containsPaper, undefined, "a direction has no size to hold");
  // "Roughly doubles the iterations to converge" is timed against the level both configurations reached; one epoch
  // on 20 images leaves a run at chance in some seed, so there is nothing to time, and the row says so.
  const curve = (key: string, s: number) =>
    (finished() as unknown as RunRecord[]).find((r) => r.key === key && r.seed === s)!.valTop1ByEpoch!;
  const jsonl = readFileSync(path.join(dir, "runs", "recipe-seed1", "metrics.jsonl"), "utf8")
    .trim()
    .split("\n");
  assert.deepEqual(
    curve("recipe", 1),
    jsonl.map((l) => JSON.parse(l).valTop1Error),
    "the validation curve, one value per epoch",
  );
  const chance = 1 - 1 / report.data.classes;
  const flat = (key: string) => seeds.filter((s) => Math.min(...curve(key, s)) >= chance);
  const atChance = [...new Set([...flat("recipe"), ...flat("dropout-0.5")])].sort();
  assert.ok(atChance.length > 0, "a smoke run stays at chance in some seed");
  const names = [flat("recipe").length ? "no dropout" : "", flat("dropout-0.5").length ? "dropout 0.5" : ""].filter(Boolean).join(" and ");
  assert.deepEqual(dropout.unmeasured, [
    { metric: "epochsToTarget", why: `${names} never got below chance (seed ${atChance.join(", ")}), so there is no convergence to time` },
  ]);
  assert.match(table, /\| epochsToTarget \| ×2\.00 \| - \| - \| - \| not measured: .* never got below chance/);
  assert.equal(dropout.configurations[0].epochsToTarget?.mean !== undefined, true, "the claim with the figure summarises it");
  assert.equal(report.claims.find((c) => c.id === "lrn")!.configurations[0].epochsToTarget, undefined, "a claim without it does not");
  assert.equal((gap.effect as { seedsToResolve?: number }).seedsToResolve, undefined);
  assert.deepEqual(
    claimsRows(report, ["lrn"]).map((r) => r[1]),
    ["valTop1Error", "valTop5Error"],
    "a notebook's subset: LRN's two figures",
  );
  assert.equal(claimsRows(report, ["lrn"])[0].length, CLAIMS_COLUMNS.length);
  assert.doesNotMatch(table, /\| (reproduced|opposite|below resolution) \|/, "no verdict is shown for a model at chance");

  // Run again: nothing trains, and the report is the same.
  const again = await reproduce({ profile: "smoke", data, seeds, dir, workers: 0 });
  assert.deepEqual(again, report);
  // Records kept from before the curves were recorded are filled from their run folders' metrics.jsonl...
  const file = path.join(dir, "finished.json");
  const kept = JSON.parse(readFileSync(file, "utf8"));
  for (const r of kept.runs) delete r.valTop1ByEpoch;
  writeFileSync(file, JSON.stringify(kept));
  assert.deepEqual(await reproduce({ profile: "smoke", data, seeds, dir, workers: 0 }), report);
  assert.ok(
    finished().every((r) => (r as unknown as RunRecord).valTop1ByEpoch?.length === 1),
    "and written back",
  );
  // ...and where a run folder is gone too, that figure is left out rather than made up.
  for (const r of kept.runs) delete r.valTop1ByEpoch;
  writeFileSync(file, JSON.stringify(kept));
  rmSync(path.join(dir, "runs", "dropout-0.5-seed2", "metrics.jsonl"));
  const without = await reproduce({ profile: "smoke", data, seeds, dir, workers: 0, claims: ["dropout"] });
  assert.deepEqual(
    without.claims[0].figures.map((f) => f.metric),
    ["overfittingGap"],
  );
  assert.match(
    claimsTable(without),
    /\| epochsToTarget \| ×2\.00 \| - \| - \| - \| not measured: these runs were kept from before validation curves were recorded, and their run folders are gone \|/,
  );
  await assert.rejects(reproduce({ profile: "laptop", data, seeds, dir, workers: 0, claims: ["lrn"] }), /holds runs of another setup/);
});

test("reproduce on greyscale data marks the colour claim not applicable", async () => {
  const idx = path.join(tmp.dir, "idx");
  put(idx, "train-images-idx3-ubyte", idxImages(6));
  put(idx, "train-labels-idx1-ubyte", idxBytes([6], [0, 1, 2, 0, 1, 2]));
  put(idx, "t10k-images-idx3-ubyte", idxImages(3));
  put(idx, "t10k-labels-idx1-ubyte", idxBytes([3], [0, 1, 2]));
  const grey = path.join(tmp.dir, "grey");
  await prepareDataset({ source: await openSource("idx", idx), out: grey, size: 73, progress: "silent" });
  const report = await reproduce({
    profile: "smoke",
    data: grey,
    seeds: [1],
    dir: path.join(tmp.dir, "grey-claims"),
    claims: ["lighting"],
  });
  assert.equal(report.data.greyscale, true);
  assert.equal(report.claims[0].status, "not applicable");
  assert.match(claimsTable(report), /not applicable: PCA lighting works on the RGB covariance/);
});
