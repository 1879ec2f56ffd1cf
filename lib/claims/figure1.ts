// ReLU against tanh (section 3.1, Figure 1), the one claim on another network
// and loop: Figure 1's four-layer stand-in (lib/model/figure1.ts) trained in
// memory by lib/train/experiments.ts, each unit at its own best learning rate,
// steps to 25% training error compared as a log-ratio against the paper's 6.
import path from "node:path";
import { experimentDataset } from "../data/embedded";
import { disposeSplit, loadSplit, shrinkSplit } from "../data/in-memory";
import { openDataset } from "../data/shards";
import { buildFigure1Net } from "../model/figure1";
import type { ProfileName } from "../profiles";
import { meanSd } from "../eval/stats";
import { seedLogRatio } from "../eval/verdict";
import { compareNetworks } from "../train/experiments";
import type { Claim } from "./paper-claims";
import type { ClaimResult, OnRun } from "./reading";

/**
 * Figure 1's budget per profile: images held in memory (32x32 unless --data
 * says otherwise), the learning rates each unit tries for `searchEpochs` (the
 * best is kept, "chosen independently" as the figure's caption says), the most
 * epochs a unit gets to reach 25% training error, and how often (in steps) the
 * training error is checked on the way.
 */
export interface Figure1Budget {
  images: number;
  learningRates: number[];
  searchEpochs: number;
  maxEpochs: number;
  batchSize: number;
  checkEvery: number;
}

export const FIGURE1_BUDGET: Record<ProfileName, Figure1Budget> = {
  smoke: { images: 100, learningRates: [0.03], searchEpochs: 0, maxEpochs: 2, batchSize: 25, checkEvery: 1 },
  laptop: { images: 600, learningRates: [0.01, 0.03, 0.1], searchEpochs: 4, maxEpochs: 60, batchSize: 32, checkEvery: 5 },
  paper: { images: 50000, learningRates: [0.003, 0.01, 0.03, 0.1], searchEpochs: 2, maxEpochs: 100, batchSize: 128, checkEvery: 50 },
};

/** Figure 1's images are CIFAR-10's size; larger --data is shrunk to it in memory. */
export const FIGURE1_SIZE = 32;

/** One unit's Figure 1 run for one seed. */
export interface Figure1Record {
  activation: "relu" | "tanh";
  seed: number;
  learningRate: number;
  /** Steps to the target; the budget's steps when not reached (then a lower bound). */
  steps: number;
  reached: boolean;
  finalTrainError: number;
  /** Which data it trained on (Figure 1 picks CIFAR-10, else Fashion-MNIST, else the embedded set): a record on other data is not kept. */
  data?: string;
}

/** Trains Figure 1's network with each unit for every seed not finished yet; returns the data's description. */
export async function figure1Runs(o: {
  profile: ProfileName;
  seeds: number[];
  data?: string;
  finished: Figure1Record[];
  save: () => void;
  onRun?: OnRun;
  signal?: AbortSignal;
}): Promise<{ why: string; interrupted: boolean }> {
  const budget = FIGURE1_BUDGET[o.profile];
  const given = o.data ? openDataset(path.resolve(o.data)) : undefined;
  const stored = given?.recordShape[0] ?? FIGURE1_SIZE;
  // Figure 1's network is CIFAR-10's (32x32); at --data's stored size (146 for the laptop recipe) it would train about twenty times longer.
  const source = given
    ? {
        dataset: given,
        why:
          stored > FIGURE1_SIZE
            ? `${o.data}, as given, shrunk in memory from ${stored}x${stored} to Figure 1's ${FIGURE1_SIZE}x${FIGURE1_SIZE}`
            : `${o.data}, as given`,
      }
    : await experimentDataset(o.profile, { size: FIGURE1_SIZE, colour: false });
  const train = shrinkSplit(await loadSplit(source.dataset, "train", { limit: budget.images, scale: 1 / 64 }), FIGURE1_SIZE);
  const side = train.xs.shape[1];
  await source.dataset.close();
  try {
    // Records from other data (CIFAR-10 installed since, or another --data) are trained again.
    const stale = o.finished.filter((r) => r.data !== source.why);
    for (const r of stale) o.finished.splice(o.finished.indexOf(r), 1);
    for (const [i, seed] of o.seeds.entries()) {
      const kept = o.finished.some((r) => r.seed === seed);
      o.onRun?.({ claim: "relu", configuration: "ReLU and tanh", seed, index: i, total: o.seeds.length, kept });
      if (kept) continue;
      if (o.signal?.aborted) return { why: source.why, interrupted: true };
      const build = (activation: "relu" | "tanh") => () => buildFigure1Net({ activation, classes: train.classes, inputSize: side, seed });
      const results = await compareNetworks({ relu: build("relu"), tanh: build("tanh") }, train, {
        ...budget,
        targetTrainError: 0.25,
        seed,
      });
      const stepsPerEpoch = Math.max(1, Math.floor(train.count / budget.batchSize));
      for (const r of results) {
        const last = r.history.at(-1);
        o.finished.push({
          activation: r.name as "relu" | "tanh",
          seed,
          learningRate: r.learningRate,
          steps: r.stepsToTarget ?? budget.maxEpochs * stepsPerEpoch,
          reached: r.stepsToTarget !== undefined,
          finalTrainError: last?.trainError ?? NaN,
          data: source.why,
        });
      }
      o.save();
    }
  } finally {
    disposeSplit(train);
  }
  return { why: source.why, interrupted: false };
}

export function figure1Result(
  claim: Claim,
  seeds: number[],
  records: Figure1Record[],
  data: string | undefined,
  profile: ProfileName,
): ClaimResult {
  const base = { id: claim.id, title: claim.title, section: claim.section, source: claim.source, ...(data ? { data } : {}) };
  const of = (a: "relu" | "tanh") =>
    seeds.map((seed) => records.find((r) => r.seed === seed && r.activation === a)).filter((r): r is Figure1Record => r !== undefined);
  const relu = of("relu");
  const tanh = of("tanh");
  if (relu.length < seeds.length || tanh.length < seeds.length)
    return {
      ...base,
      status: "measured",
      why: "interrupted before every seed finished",
      configurations: [],
      learned: { ok: false, chance: NaN, valTop1Error: NaN, trainFell: false },
      figures: [],
    };
  const censored = tanh.filter((r) => !r.reached).length;
  const f = claim.figures[0];
  // ReLU's steps over tanh's would be 1/6 in the paper; the claim is written tanh / ReLU = 6.
  const effect = seedLogRatio(
    relu.map((r) => r.steps),
    tanh.map((r) => r.steps),
    f.value!,
  );
  const budgetEpochs = FIGURE1_BUDGET[profile].maxEpochs;
  return {
    ...base,
    status: "measured",
    ...(censored
      ? {
          why: `tanh did not reach 25% within ${budgetEpochs} epochs in ${censored} of ${seeds.length} seeds; its steps there are the budget's, so the ratio is a lower bound`,
        }
      : {}),
    configurations: [
      {
        name: claim.control.name,
        role: "control",
        stepsToTarget: meanSd(relu.map((r) => r.steps)),
        trainTop1Error: meanSd(relu.map((r) => r.finalTrainError)),
      },
      {
        name: claim.treatment.name,
        role: "treatment",
        stepsToTarget: meanSd(tanh.map((r) => r.steps)),
        trainTop1Error: meanSd(tanh.map((r) => r.finalTrainError)),
      },
    ],
    // Nothing is measured unless the faster unit gets to 25% in every seed.
    learned: { ok: relu.every((r) => r.reached), chance: NaN, valTop1Error: NaN, trainFell: relu.every((r) => r.reached) },
    figures: [
      {
        metric: f.metric,
        says: f.says,
        paper: f.value,
        effect,
        verdict: effect.verdict,
        reading: relu.every((r) => r.reached) ? effect.verdict : "not read",
        containsPaper: effect.containsPaper,
        toResolve: { seeds: effect.seedsToResolve },
      },
    ],
  };
}
