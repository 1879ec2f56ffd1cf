// The claims harness: trains each claim's control and treatment over seeds on
// the same data with the same budget, then reads the paired effect against the
// paper's figure (lib/eval/verdict.ts). Runs are keyed by their settings, so a
// configuration several claims share (the recipe itself) trains once per seed,
// and finished runs are kept in DIR/finished.json: an interrupted `reproduce`
// carries on without redoing them, and a half-trained run resumes from its
// checkpoint. Before any effect is read, the report says whether the network
// learned (validation error well below chance); a model at chance shows no
// effect of anything, so its verdicts are marked unreadable.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { embeddedDataset, experimentDataset } from "../data/embedded";
import { disposeSplit, loadSplit, shrinkSplit } from "../data/in-memory";
import { buildFigure1Net } from "../model/figure1";
import { type InitScheme, layerInit } from "../model/init";
import { compareNetworks } from "../train/experiments";
import { openDataset } from "../data/shards";
import type { DatasetStatistics } from "../data/stats";
import { type ProfileName, parseProfile } from "../profiles";
import { isRunFolder, readRunMetrics } from "../run/run";
import { type ProgressMode, train } from "../train/trainer";
import { trainProfile } from "../train/profiles";
import { closeEvalTarget, evaluateProtocols, openEvalTarget } from "./report";
import { type MeanSd, meanSd } from "./stats";
import { type Claim, type ClaimMetric, type ClaimSettings, PAPER_CLAIMS, type PaperFigure, claimById } from "./paper-claims";
import { type PairedImagesEffect, type SeedEffect, type Verdict, pairedImages, seedDifference, seedLogRatio, verdictOf } from "./verdict";

/**
 * How long each claim's runs train, per profile. Short enough that the whole set
 * fits its budget (laptop: about a minute a run on 2 cores), long enough that
 * the recipe learns; smoke only checks that the harness runs.
 */
export interface ClaimsBudget {
  epochs: number;
  /** A subset of the embedded set (ignored with --data). */
  perClass?: { train: number; val: number };
  batchSize?: number;
}

export const CLAIMS_BUDGET: Record<ProfileName, ClaimsBudget> = {
  smoke: { epochs: 1, perClass: { train: 4, val: 2 }, batchSize: 8 },
  // 2,000 images seen 10 times: 20,000 training images a run, about two minutes on 2 cores (the
  // laptop profile sees 32,000). bench/results/augmentation.json's runs on the same 2,000 images
  // were at 35-50% validation error after 8 to 10 epochs at the first rate; the drop after 80%
  // of the epochs takes a few points more, so the recipe is well below chance (90%) by the end.
  laptop: { epochs: 10, perClass: { train: 200, val: 100 } },
  paper: { epochs: 90 },
};

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

/** One finished training run of one configuration and seed. */
export interface RunRecord {
  key: string;
  seed: number;
  valTop1Error: number;
  valTop5Error: number;
  /** The trainer's training top-1 of the last epoch: on the batches as trained (augmented, dropout on). */
  trainTop1Error: number;
  /** The last epoch's model on the training split in inference mode, centre patch: the training error the overfitting gap uses. */
  trainCentreTop1Error: number;
  /** Training error after the first epoch, to check that it fell. */
  firstTrainTop1Error: number;
  /** Validation top-1 after each epoch (for epochsToTarget); filled from the run folder's metrics.jsonl for records kept from before it was recorded. */
  valTop1ByEpoch?: number[];
  epochs: number;
  seconds: number;
  /** Per validation image, "1" when top-1 was wrong: centre patch and ten patches (test-time claims only). */
  centreWrong?: string;
  tenWrong?: string;
  centreTop5Wrong?: string;
  tenTop5Wrong?: string;
}

// Bumped when a record's fields or meaning change, so runs of an older harness are not mixed in.
const HARNESS_VERSION = 2;

interface FinishedFile {
  identity: { profile: ProfileName; data: string; budget: ClaimsBudget; harness: number };
  runs: RunRecord[];
  figure1?: Figure1Record[];
}

export interface ReproduceOptions {
  /** Claim ids; default all. */
  claims?: readonly string[];
  profile?: string;
  seeds?: readonly number[];
  /** A prepared dataset; default the profile's embedded set at the budget's size. */
  data?: string;
  /** Where the run folders and finished.json go. */
  dir: string;
  progress?: ProgressMode;
  workers?: number;
  signal?: AbortSignal;
  /** Called before each training run and each test-time evaluation. */
  onRun?: (info: { claim: string; configuration: string; seed: number; index: number; total: number; kept: boolean }) => void;
}

export interface FigureResult {
  metric: ClaimMetric;
  says: string;
  paper: number | undefined;
  effect: SeedEffect | PairedImagesEffect;
  /** What the interval says, whether or not the gate passed (the JSON keeps it). */
  verdict: Verdict;
  /** What the table shows and the notebooks' prose quotes: the verdict, or "not read" when the learned gate failed. */
  reading: Verdict | "not read";
  /** Whether the interval holds the paper's size (undefined when the paper gives only a direction). */
  containsPaper: boolean | undefined;
  /** Seeds (training claims) or validation images (test-time claims) that would resolve the paper's size. */
  toResolve: { seeds?: number; images?: number } | undefined;
  /** What limits this figure's reading (e.g. runs that did not reach the target within the budget). */
  note?: string;
}

export interface ClaimResult {
  id: string;
  title: string;
  section: string;
  source: string;
  status: "measured" | "not applicable";
  why?: string;
  /** Which data, when the claim used other data than the report's (Figure 1: CIFAR-10, else Fashion-MNIST, else the embedded set). */
  data?: string;
  configurations: ({ name: string; role: "control" | "treatment"; learnedSeeds?: number } & Partial<Record<ClaimMetric | "trainTop1Error" | "trainCentreTop1Error" | "seconds", MeanSd>>)[];
  /**
   * Whether there is anything to read: in every seed at least one configuration
   * learned (validation top-1 at most half of chance, training error fell).
   * Two models at chance show no effect of anything; but an ablation that
   * learns worse than the recipe is the effect itself, so the gate is not put
   * on the ablated arm alone (that would hide exactly the large effects).
   * Figure 1: the faster unit reached the target in every seed.
   */
  learned: { ok: boolean; chance: number; valTop1Error: number; trainFell: boolean };
  figures: FigureResult[];
  /** The claim's figures that could not be computed from these runs, and why (shown as rows, never quietly left out). */
  unmeasured?: { metric: ClaimMetric; why: string }[];
}

export interface ClaimsReport {
  profile: ProfileName;
  data: { dir: string; classes: number; train: number; val: number; greyscale: boolean; source: unknown };
  budget: ClaimsBudget;
  seeds: number[];
  status: "completed" | "interrupted";
  /** The harness that measured it (HARNESS_VERSION): 2 reads the gap in inference mode and gates on either configuration. */
  harness: number;
  claims: ClaimResult[];
}

/** Greyscale data stored as RGB: every channel has the same mean and the covariance is one value throughout. */
export function isGreyscale(stats: Pick<DatasetStatistics, "channelMean" | "covariance">): boolean {
  const c = stats.covariance;
  const scale = Math.max(1e-9, Math.abs(c[0][0]));
  return c.every((row) => row.every((v) => Math.abs(v - c[0][0]) <= 1e-6 * scale)) && stats.channelMean.every((m) => Math.abs(m - stats.channelMean[0]) <= 1e-6 * Math.max(1, stats.channelMean[0]));
}

/** The training part of a configuration's settings (the test protocol does not change the run). */
function trainingSettings(s: ClaimSettings): Omit<ClaimSettings, "protocol"> {
  const { protocol: _protocol, ...rest } = s;
  return rest;
}

// What the builder and trainer do when a setting is not given (lib/model/alexnet.ts, lib/train/trainer.ts).
const BUILDER_DEFAULTS = { lrn: true, pooling: "overlapping", dropout: 0.5, towers: 2, init: "paper" } as const;
// The model options a claim may set (ClaimSettings.modelOptions), in the order keys name them.
const CLAIM_MODEL_OPTIONS = ["dropout", "hiddenBias", "init", "lrn", "omitConv", "pooling", "towers"] as const;

/**
 * A readable, stable name for a run: the settings in which it differs from the
 * profile's recipe ("lrn-false", "lighting-0"), or "recipe". Keyed by what the
 * run does, not by how a claim spells it, so LRN's treatment and pooling's
 * treatment, both the recipe, are one run.
 */
export function settingsKey(s: ClaimSettings, profile: ProfileName): string {
  const recipe = trainProfile(profile);
  // Each side as built: the builder's defaults filled in, hiddenBias as the scheme's own when not given.
  const built = (m: Record<string, unknown>) => {
    const init = (m.init ?? "paper") as InitScheme;
    return { ...m, init, hiddenBias: m.hiddenBias ?? layerInit(init, "conv2").bias, schemeBias: layerInit(init, "conv2").bias };
  };
  const base: Record<string, unknown> = built({ ...BUILDER_DEFAULTS, ...recipe.modelOptions });
  const run: Record<string, unknown> = built({ ...BUILDER_DEFAULTS, ...recipe.modelOptions, ...s.modelOptions });
  const parts: string[] = [];
  for (const k of CLAIM_MODEL_OPTIONS) {
    // A starting bias other than its scheme's is named even when the recipe's scheme has that bias ("init-paper" alone would read as biases 1).
    const differs = run[k] !== base[k] || (k === "hiddenBias" && run.hiddenBias !== run.schemeBias);
    if (run[k] !== undefined && differs) parts.push(`${k}-${String(run[k])}`);
  }
  if (s.cropsAndReflections === false) parts.push("centre-crops");
  if (s.lighting !== undefined && s.lighting !== recipe.lighting) parts.push(`lighting-${s.lighting}`);
  if (s.inputScale !== undefined && s.inputScale !== recipe.inputScale) parts.push(`inputScale-${s.inputScale}`);
  return parts.length ? parts.join("_") : "recipe";
}

const bits = (xs: readonly boolean[]) => xs.map((x) => (x ? "1" : "0")).join("");
const unbits = (s: string) => Array.from(s, (c) => c === "1");

function readFinished(file: string, identity: FinishedFile["identity"]): FinishedFile {
  if (!existsSync(file)) return { identity, runs: [], figure1: [] };
  const kept = JSON.parse(readFileSync(file, "utf8")) as FinishedFile;
  if (JSON.stringify(kept.identity) !== JSON.stringify(identity)) {
    throw new Error(`${file} holds runs of another setup (${JSON.stringify(kept.identity)}), not ${JSON.stringify(identity)}; pass another --out, or delete the folder ${path.dirname(file)} (its run folders too) to start again.`);
  }
  return { ...kept, figure1: kept.figure1 ?? [] };
}

function writeFinished(file: string, finished: FinishedFile): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(finished, null, 1)}\n`);
  renameSync(tmp, file); // a reader never sees half a file, even after Ctrl-C
}

/** One run learned: validation top-1 at most half of chance, and its training error fell after the first epoch. */
export function learnedRun(r: Pick<RunRecord, "valTop1Error" | "trainTop1Error" | "firstTrainTop1Error" | "epochs">, chance: number): boolean {
  return r.valTop1Error <= chance / 2 && (r.epochs < 2 || r.trainTop1Error < r.firstTrainTop1Error);
}

/**
 * The gate before any verdict (ClaimResult.learned), paired by seed: every seed
 * has a configuration that learned. valTop1Error is the mean over seeds of the
 * one that learned (the control where both did).
 */
export function learnedGate(control: readonly RunRecord[], treatment: readonly RunRecord[], chance: number): ClaimResult["learned"] {
  const either = control.map((c, i) => (learnedRun(c, chance) ? c : treatment[i]));
  return {
    ok: control.length > 0 && control.every((c, i) => learnedRun(c, chance) || learnedRun(treatment[i], chance)),
    chance,
    valTop1Error: either.length ? meanSd(either.map((r) => r.valTop1Error)).mean : NaN,
    trainFell: either.every((r) => r.epochs < 2 || r.trainTop1Error < r.firstTrainTop1Error),
  };
}

/** Runs the claims and reports each one's configurations, effects and verdicts. */
export async function reproduce(options: ReproduceOptions): Promise<ClaimsReport> {
  const profile = parseProfile(options.profile ?? "smoke");
  const budget = CLAIMS_BUDGET[profile];
  const recipe = trainProfile(profile);
  const seeds = [...(options.seeds ?? [1, 2, 3])];
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s))) throw new Error(`reproduce: seeds must be whole numbers, got [${seeds.join(", ")}].`);
  const claims = (options.claims?.length ? options.claims : PAPER_CLAIMS.map((c) => c.id)).map(claimById);
  const dataDir = options.data
    ? path.resolve(options.data)
    : (await embeddedDataset(profile, { size: recipe.recordSize, ...(budget.perClass ? { perClass: budget.perClass } : {}), progress: options.progress === "silent" ? "silent" : undefined })).dir;
  const dataset = openDataset(dataDir);
  const data = { dir: dataDir, classes: dataset.classes.length, train: dataset.split("train").length, val: dataset.split("val").length, greyscale: isGreyscale(dataset.statistics()), source: dataset.manifest.preprocessing.source };
  await dataset.close();

  mkdirSync(options.dir, { recursive: true });
  const finishedFile = path.join(options.dir, "finished.json");
  const identity = { profile, data: dataDir, budget, harness: HARNESS_VERSION };
  const finished = readFinished(finishedFile, identity);
  const { runs } = finished;
  const figure1 = finished.figure1!;
  const applicable = (c: Claim) => !(c.colour && data.greyscale);
  const runDirOf = (key: string, seed: number) => path.join(options.dir, "runs", `${key}-seed${seed}`);
  if (backfillCurves(runs, runDirOf)) writeFinished(finishedFile, finished);

  // Every (settings, seed) pair the claims need, each once.
  const jobs: { claim: Claim; configuration: string; settings: ClaimSettings; seed: number; testTime: boolean }[] = [];
  const seen = new Set<string>();
  for (const claim of claims.filter((c) => applicable(c) && !c.figure1)) {
    for (const seed of seeds) {
      for (const conf of claim.testTime ? [claim.control] : [claim.control, claim.treatment]) {
        const id = `${settingsKey(conf.settings, profile)}|${seed}|${claim.testTime ? "test" : ""}`;
        if (seen.has(id)) continue;
        seen.add(id);
        jobs.push({ claim, configuration: claim.testTime ? "the recipe, tested both ways" : conf.name, settings: conf.settings, seed, testTime: !!claim.testTime });
      }
    }
  }
  const find = (key: string, seed: number, testTime = false) => runs.find((r) => r.key === key && r.seed === seed && (!testTime || r.tenWrong !== undefined));
  let status: ClaimsReport["status"] = "completed";
  for (const [index, job] of jobs.entries()) {
    const key = settingsKey(job.settings, profile);
    const kept = !!find(key, job.seed, job.testTime);
    options.onRun?.({ claim: job.claim.id, configuration: job.configuration, seed: job.seed, index, total: jobs.length, kept });
    if (kept) continue;
    if (options.signal?.aborted) {
      status = "interrupted";
      break;
    }
    const runDir = runDirOf(key, job.seed);
    let record = find(key, job.seed);
    if (!record) {
      const s = trainingSettings(job.settings);
      const t0 = performance.now();
      const r = await train({
        runDir,
        resume: isRunFolder(runDir),
        profile,
        data: dataDir,
        seed: job.seed,
        epochs: budget.epochs,
        ...(budget.batchSize ? { batchSize: budget.batchSize } : {}),
        modelOptions: { ...recipe.modelOptions, ...s.modelOptions },
        ...(s.cropsAndReflections !== undefined ? { cropsAndReflections: s.cropsAndReflections } : {}),
        ...(s.lighting !== undefined ? { lighting: s.lighting } : {}),
        ...(s.inputScale !== undefined ? { inputScale: s.inputScale } : {}),
        keepLast: 1,
        workers: options.workers,
        progress: options.progress ?? "silent",
        signal: options.signal,
      });
      r.model.dispose();
      if (r.status === "interrupted" || !r.final) {
        status = "interrupted";
        break;
      }
      // The trainer's training error is counted on augmented batches with dropout on; the gap wants the
      // last model's error on the training images as the validation images are seen (centre patch, inference).
      const target = await openEvalTarget(runDir, { checkpoint: "last" });
      let trainCentreTop1Error: number;
      try {
        trainCentreTop1Error = (await evaluateProtocols(target, ["center"], { workers: options.workers, split: "train" })).center!.top1Error;
      } finally {
        await closeEvalTarget(target);
      }
      record = { key, seed: job.seed, valTop1Error: r.final.valTop1Error, valTop5Error: r.final.valTop5Error, trainTop1Error: r.final.trainTop1Error, trainCentreTop1Error, firstTrainTop1Error: r.history[0].trainTop1Error, valTop1ByEpoch: r.history.map((h) => h.valTop1Error), epochs: r.history.length, seconds: (performance.now() - t0) / 1000 };
      runs.push(record);
      writeFinished(finishedFile, finished);
    }
    if (job.testTime) {
      // The last epoch's model, as every other claim reads: the best checkpoint was picked by the centre patch's error on these same images.
      const target = await openEvalTarget(runDir, { checkpoint: "last" });
      try {
        const e = await evaluateProtocols(target, ["center", "ten-crop"], { workers: options.workers });
        const wrong = (k: 1 | 5) => (ev: NonNullable<typeof e.center>) => ev.predictions.map((p) => !p.top.slice(0, k).some((t) => t.class === p.label));
        Object.assign(record, { centreWrong: bits(wrong(1)(e.center!)), tenWrong: bits(wrong(1)(e["ten-crop"]!)), centreTop5Wrong: bits(wrong(5)(e.center!)), tenTop5Wrong: bits(wrong(5)(e["ten-crop"]!)) });
      } finally {
        await closeEvalTarget(target);
      }
      writeFinished(finishedFile, finished);
    }
  }

  let figure1Data: string | undefined;
  if (status === "completed" && claims.some((c) => c.figure1)) {
    const got = await figure1Runs({ profile, seeds, data: options.data, finished: figure1, save: () => writeFinished(finishedFile, finished), onRun: options.onRun, signal: options.signal });
    figure1Data = got.why;
    if (got.interrupted) status = "interrupted";
  }

  const chance = 1 - 1 / data.classes;
  const results = claims.map((claim): ClaimResult => {
    const base = { id: claim.id, title: claim.title, section: claim.section, source: claim.source };
    if (claim.figure1) return figure1Result(claim, seeds, figure1, figure1Data, profile);
    if (!applicable(claim)) return { ...base, status: "not applicable", why: "PCA lighting works on the RGB covariance; this data is greyscale", configurations: [], learned: { ok: false, chance, valTop1Error: NaN, trainFell: false }, figures: [] };
    const recordsOf = (s: ClaimSettings) => seeds.map((seed) => find(settingsKey(s, profile), seed)).filter((r): r is RunRecord => r !== undefined);
    const control = recordsOf(claim.control.settings);
    const treatment = claim.testTime ? control : recordsOf(claim.treatment.settings);
    if (control.length < seeds.length || treatment.length < seeds.length || (claim.testTime && control.some((r) => r.tenWrong === undefined))) {
      return { ...base, status: "measured", why: "interrupted before every seed finished", configurations: [], learned: { ok: false, chance, valTop1Error: NaN, trainFell: false }, figures: [] };
    }
    const learnedIn = (r: RunRecord) => learnedRun(r, chance);
    const toTarget = convergence(control, chance);
    const summary = (name: string, role: "control" | "treatment", rs: RunRecord[], top1 = rs.map((r) => r.valTop1Error), top5 = rs.map((r) => r.valTop5Error)) => ({
      name,
      role,
      learnedSeeds: rs.filter(learnedIn).length,
      valTop1Error: meanSd(top1),
      valTop5Error: meanSd(top5),
      trainTop1Error: meanSd(rs.map((r) => r.trainTop1Error)),
      trainCentreTop1Error: meanSd(rs.map((r) => r.trainCentreTop1Error)),
      overfittingGap: meanSd(rs.map((r) => metricOf(r, "overfittingGap", toTarget))),
      earlyTrainTop1Error: meanSd(rs.map((r) => r.firstTrainTop1Error)),
      ...(rs.every((r) => r.valTop1ByEpoch) ? { epochsToTarget: meanSd(rs.map((r) => toTarget(r).epochs)) } : {}),
      // Training and the training-split evaluation, per run (a test-time claim's second protocol is not counted).
      seconds: meanSd(rs.map((r) => r.seconds)),
    });
    const rate = (s: string) => unbits(s).filter(Boolean).length / s.length;
    const configurations = claim.testTime
      ? [summary(claim.control.name, "control" as const, control, control.map((r) => rate(r.centreWrong!)), control.map((r) => rate(r.centreTop5Wrong!))), summary(claim.treatment.name, "treatment" as const, control, control.map((r) => rate(r.tenWrong!)), control.map((r) => rate(r.tenTop5Wrong!)))]
      : [summary(claim.control.name, "control", control), summary(claim.treatment.name, "treatment", treatment)];
    const learned = learnedGate(control, treatment, chance);
    const unmeasured: NonNullable<ClaimResult["unmeasured"]> = [];
    const figures = claim.figures.flatMap((f) => {
      if (f.metric === "epochsToTarget") {
        // Records kept from before the curves were recorded, whose run folders are gone, cannot give this figure.
        if (![...control, ...treatment].every((r) => r.valTop1ByEpoch)) return (unmeasured.push({ metric: f.metric, why: "these runs were kept from before validation curves were recorded, and their run folders are gone" }), []);
        const flat = control.filter((r) => Math.min(...r.valTop1ByEpoch!) >= chance).map((r) => r.seed);
        if (flat.length) return (unmeasured.push({ metric: f.metric, why: `${claim.control.name} never got below chance (seed ${flat.join(", ")}), so there is no convergence to time` }), []);
      }
      return [figureResult(f, claim, control, treatment, learned.ok, toTarget)];
    });
    return { ...base, status: "measured", configurations, learned, figures, ...(unmeasured.length ? { unmeasured } : {}) };
  });
  return { profile, data, budget, seeds, status, harness: HARNESS_VERSION, claims: results };
}

/** Trains Figure 1's network with each unit for every seed not finished yet; returns the data's description. */
async function figure1Runs(o: {
  profile: ProfileName;
  seeds: number[];
  data?: string;
  finished: Figure1Record[];
  save: () => void;
  onRun?: ReproduceOptions["onRun"];
  signal?: AbortSignal;
}): Promise<{ why: string; interrupted: boolean }> {
  const budget = FIGURE1_BUDGET[o.profile];
  const given = o.data ? openDataset(path.resolve(o.data)) : undefined;
  const stored = given?.recordShape[0] ?? FIGURE1_SIZE;
  // Figure 1's network is CIFAR-10's (32x32); at --data's stored size (146 for the laptop recipe) it would train about twenty times longer.
  const source = given
    ? { dataset: given, why: stored > FIGURE1_SIZE ? `${o.data}, as given, shrunk in memory from ${stored}x${stored} to Figure 1's ${FIGURE1_SIZE}x${FIGURE1_SIZE}` : `${o.data}, as given` }
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
      const results = await compareNetworks({ relu: build("relu"), tanh: build("tanh") }, train, { ...budget, targetTrainError: 0.25, seed });
      const stepsPerEpoch = Math.max(1, Math.floor(train.count / budget.batchSize));
      for (const r of results) {
        const last = r.history.at(-1);
        o.finished.push({ activation: r.name as "relu" | "tanh", seed, learningRate: r.learningRate, steps: r.stepsToTarget ?? budget.maxEpochs * stepsPerEpoch, reached: r.stepsToTarget !== undefined, finalTrainError: last?.trainError ?? NaN, data: source.why });
      }
      o.save();
    }
  } finally {
    disposeSplit(train);
  }
  return { why: source.why, interrupted: false };
}

function figure1Result(claim: Claim, seeds: number[], records: Figure1Record[], data: string | undefined, profile: ProfileName): ClaimResult {
  const base = { id: claim.id, title: claim.title, section: claim.section, source: claim.source, ...(data ? { data } : {}) };
  const of = (a: "relu" | "tanh") => seeds.map((seed) => records.find((r) => r.seed === seed && r.activation === a)).filter((r): r is Figure1Record => r !== undefined);
  const relu = of("relu");
  const tanh = of("tanh");
  if (relu.length < seeds.length || tanh.length < seeds.length) return { ...base, status: "measured", why: "interrupted before every seed finished", configurations: [], learned: { ok: false, chance: NaN, valTop1Error: NaN, trainFell: false }, figures: [] };
  const censored = tanh.filter((r) => !r.reached).length;
  const f = claim.figures[0];
  // ReLU's steps over tanh's would be 1/6 in the paper; the claim is written tanh / ReLU = 6.
  const effect = seedLogRatio(relu.map((r) => r.steps), tanh.map((r) => r.steps), f.value!);
  const budgetEpochs = FIGURE1_BUDGET[profile].maxEpochs;
  return {
    ...base,
    status: "measured",
    ...(censored ? { why: `tanh did not reach 25% within ${budgetEpochs} epochs in ${censored} of ${seeds.length} seeds; its steps there are the budget's, so the ratio is a lower bound` } : {}),
    configurations: [
      { name: claim.control.name, role: "control", stepsToTarget: meanSd(relu.map((r) => r.steps)), trainTop1Error: meanSd(relu.map((r) => r.finalTrainError)) },
      { name: claim.treatment.name, role: "treatment", stepsToTarget: meanSd(tanh.map((r) => r.steps)), trainTop1Error: meanSd(tanh.map((r) => r.finalTrainError)) },
    ],
    // Nothing is measured unless the faster unit gets to 25% in every seed.
    learned: { ok: relu.every((r) => r.reached), chance: NaN, valTop1Error: NaN, trainFell: relu.every((r) => r.reached) },
    figures: [{ metric: f.metric, says: f.says, paper: f.value, effect, verdict: effect.verdict, reading: relu.every((r) => r.reached) ? effect.verdict : "not read", containsPaper: effect.containsPaper, toResolve: { seeds: effect.seedsToResolve } }],
  };
}

/**
 * Epochs until `curve` (an error after each epoch) is first at or below
 * `target`, interpolated linearly from the epoch before (before epoch 1, the
 * untrained `start`, chance), so a run that crosses early in its third epoch
 * counts about 2.1, not 3. Not reached: the curve's length, a lower bound.
 */
export function epochsToTarget(curve: readonly number[] | undefined, target: number, start: number): { epochs: number; reached: boolean } {
  if (!curve || curve.length === 0) return { epochs: NaN, reached: false };
  for (let i = 0; i < curve.length; i++) {
    const before = i === 0 ? start : curve[i - 1];
    if (curve[i] <= target) return { epochs: before <= target ? i : i + (before - target) / (before - curve[i]), reached: true };
  }
  return { epochs: curve.length, reached: false };
}

/** A tenth of the way back from the control's best validation top-1 to chance: where a run counts as converged. */
export const CONVERGED_WITHIN = 0.1;

/**
 * Epochs to converge, for each run of a claim: epochs until its validation
 * top-1 is within CONVERGED_WITHIN of the control's improvement over chance of
 * the control's best, in the same seed ("as far as the control got, nearly").
 * The control reaches it by its best epoch; a treatment that learns more slowly
 * reaches it later, or not within the budget (then the budget is counted).
 */
export function convergence(control: readonly RunRecord[], chance: number): ToTarget {
  return (r) => {
    const c = control.find((x) => x.seed === r.seed)?.valTop1ByEpoch;
    if (!c || !r.valTop1ByEpoch) return { epochs: NaN, reached: false };
    const best = Math.min(...c);
    return epochsToTarget(r.valTop1ByEpoch, best + CONVERGED_WITHIN * (chance - best), chance);
  };
}

/** Fills each record's valTop1ByEpoch from its run folder's metrics.jsonl where it can; true when any was filled. */
function backfillCurves(runs: RunRecord[], runDirOf: (key: string, seed: number) => string): boolean {
  let filled = false;
  for (const r of runs.filter((x) => !x.valTop1ByEpoch)) {
    const history = readRunMetrics(runDirOf(r.key, r.seed));
    if (history.length !== r.epochs) continue;
    r.valTop1ByEpoch = history.map((h) => h.valTop1Error);
    filled = true;
  }
  return filled;
}

export type ToTarget = (r: RunRecord) => { epochs: number; reached: boolean };

function metricOf(r: RunRecord, metric: ClaimMetric, toTarget: ToTarget): number {
  if (metric === "stepsToTarget") throw new Error("stepsToTarget is Figure 1's metric, measured by figure1Runs.");
  if (metric === "epochsToTarget") return toTarget(r).epochs;
  if (metric === "overfittingGap") return r.valTop1Error - r.trainCentreTop1Error;
  return metric === "earlyTrainTop1Error" ? r.firstTrainTop1Error : r[metric];
}

function figureResult(f: PaperFigure, claim: Claim, control: RunRecord[], treatment: RunRecord[], learned: boolean, toTarget: ToTarget): FigureResult {
  // Without the paper's size only its direction is judged: the sign stands in for the figure.
  const paper = f.value ?? f.sign;
  let effect: SeedEffect | PairedImagesEffect;
  if (claim.testTime) {
    const top5 = f.metric === "valTop5Error";
    // One answer sheet per seed's model; pairedImages averages them within each image.
    const sheets = (pick: (r: RunRecord) => string | undefined) => control.map((r) => unbits(pick(r)!));
    effect = pairedImages(sheets((r) => (top5 ? r.centreTop5Wrong : r.centreWrong)), sheets((r) => (top5 ? r.tenTop5Wrong : r.tenWrong)), paper);
  } else if (f.metric === "epochsToTarget") {
    effect = seedLogRatio(control.map((r) => toTarget(r).epochs), treatment.map((r) => toTarget(r).epochs), f.value!);
  } else {
    effect = seedDifference(control.map((r) => metricOf(r, f.metric, toTarget)), treatment.map((r) => metricOf(r, f.metric, toTarget)), paper);
  }
  const censored = f.metric === "epochsToTarget" ? { control: control.filter((r) => !toTarget(r).reached).length, treatment: treatment.filter((r) => !toTarget(r).reached).length } : undefined;
  // A run that never got there counts the budget: a treatment censored so is slower than counted (the ratio a lower bound), a control so faster.
  const note = censored && (censored.control || censored.treatment)
    ? `${claim.treatment.name} did not converge (come within ${100 * CONVERGED_WITHIN}% of ${claim.control.name}'s improvement over chance) within the budget in ${censored.treatment} of ${treatment.length} seeds; those count the budget's ${treatment[0]?.epochs} epochs, so the ratio is a lower bound`
    : undefined;
  const sized = f.value !== undefined;
  // A direction is no size: nothing "holds" it and no count of seeds "resolves" it, so those are left out.
  if (!sized) effect = effect.kind === "mcnemar" ? { ...effect, containsPaper: false, imagesToResolve: undefined } : { ...effect, containsPaper: false, seedsToResolve: undefined };
  return {
    metric: f.metric,
    says: f.says,
    paper: f.value,
    effect,
    verdict: verdictOf(effect, paper),
    reading: learned ? verdictOf(effect, paper) : "not read",
    containsPaper: sized ? effect.containsPaper : undefined,
    toResolve: !sized ? undefined : effect.kind === "mcnemar" ? { images: effect.imagesToResolve } : { seeds: effect.seedsToResolve },
    ...(note ? { note } : {}),
  };
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}` : "-");
const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}` : "-");

/** What the overfittingGap rows measure, and the bias they carry. */
export const OVERFITTING_NOTE =
  "overfittingGap is validation top-1 minus training top-1, both of the last epoch's model in inference mode on the centre patch (no dropout, no augmentation), so a treatment that makes its training batches harder does not shrink its gap by that alone.";

const ratio = (x: number) => (Number.isFinite(x) ? `×${x.toFixed(2)}` : "-");

export const CLAIMS_COLUMNS = ["claim", "metric", "paper", "control", "treatment", "effect (95% interval)", "verdict", "holds the paper's size", "to resolve it"] as const;

/** One row per claim and figure (for showTable or markdown): errors in points, ratios as ×. `ids` keeps only those claims. */
export function claimsRows(report: ClaimsReport, ids?: readonly string[]): string[][] {
  const rows: string[][] = [];
  for (const c of report.claims.filter((x) => !ids || ids.includes(x.id))) {
    if (c.status === "not applicable" || c.figures.length === 0) {
      rows.push([`${c.title} (${c.section})`, "-", "-", "-", "-", "-", `${c.status === "not applicable" ? "not applicable" : "not measured"}: ${c.why ?? ""}`, "-", "-"]);
      continue;
    }
    const [ctl, trt] = c.configurations;
    const claim = PAPER_CLAIMS.find((x) => x.id === c.id);
    for (const f of c.figures) {
      const e = f.effect;
      const steps = f.metric === "stepsToTarget";
      const sd = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : "-");
      const cell = (m: MeanSd | undefined) =>
        m === undefined ? "-" : steps ? `${m.mean.toFixed(0)} ± ${sd(m.sd, 0)} steps` : f.metric === "epochsToTarget" ? `${m.mean.toFixed(1)} ± ${sd(m.sd, 1)} epochs` : `${pct(m.mean)} ± ${pct(m.sd)}`;
      const paper = f.paper === undefined ? (f.effect.paper < 0 ? "lower" : "higher") : e.kind === "log-ratio" ? ratio(f.paper) : signed(f.paper);
      const measured = e.kind === "log-ratio" ? `${ratio(e.ratio!.mean)} (${ratio(e.ratio!.low)} to ${ratio(e.ratio!.high)})` : `${signed(e.mean)} (${signed(e.low)} to ${signed(e.high)})`;
      // A model at chance shows no effect of anything: the verdict is not read (the JSON keeps it).
      const notLearned = steps
        ? `not read: ${ctl.name} did not reach the target in every seed`
        : `not read: in some seed neither configuration learned (the gate: val top-1 at most ${pct(c.learned.chance / 2)}%, half of chance, and training error falling; ${ctl.name} learned in ${ctl.learnedSeeds ?? "?"} seeds, ${trt.name} in ${trt.learnedSeeds ?? "?"})`;
      const verdict = (c.learned.ok ? f.verdict : notLearned) + (c.why ? ` (${c.why})` : "") + (f.note ? ` (${f.note})` : "");
      // Infinity (no number of seeds or images at this spread) is null once the report has been through JSON.
      const count = (n: number | null | undefined, what: string) => (n === undefined ? undefined : n === null || !Number.isFinite(n) ? `beyond ${what === "seeds" ? "1,000 seeds" : "any number of images"}` : `${n} ${what}`);
      const resolve = f.toResolve === undefined ? "-" : (count(f.toResolve.seeds, "seeds") ?? count(f.toResolve.images, "images") ?? "-");
      rows.push([`${c.title} (${c.section})`, f.metric, paper, `${ctl.name}: ${cell(ctl[f.metric])}`, `${trt.name}: ${cell(trt[f.metric])}`, measured, verdict, f.containsPaper === undefined ? "-" : f.containsPaper ? "yes" : "no", resolve]);
    }
    // A figure these runs cannot give is a row that says why, not a row left out.
    for (const u of c.unmeasured ?? []) {
      const f = claim?.figures.find((x) => x.metric === u.metric);
      rows.push([`${c.title} (${c.section})`, u.metric, f?.value === undefined ? "-" : ratio(f.value), "-", "-", "-", `not measured: ${u.why}`, "-", "-"]);
    }
  }
  return rows;
}

/**
 * One sentence per claim and figure, computed from the report, for a notebook's
 * prose to stand on: the verdict, the measured effect against the paper's, and
 * what would resolve it. Whatever the verdict, the sentence says it.
 */
export function claimSentences(report: ClaimsReport, ids?: readonly string[]): string[] {
  const rows = claimsRows(report, ids);
  return rows.map((r) => {
    const [claim, metric, paper, , , measured, verdict, holds, resolve] = r;
    if (verdict.startsWith("not read") || verdict.startsWith("not applicable") || verdict.startsWith("not measured")) return `${claim}, ${metric}: ${verdict}.`;
    const size = holds === "yes" ? "; the interval holds the paper's figure" : holds === "no" ? "; the interval does not hold the paper's figure" : "";
    const more = !verdict.startsWith("below resolution") || resolve === "-" ? "" : resolve.startsWith("beyond") ? `; an effect of the paper's size is ${resolve} at this spread` : `; about ${resolve} would resolve an effect of the paper's size at this spread`;
    return `${claim}, ${metric}: ${verdict}. Measured ${measured} against the paper's ${paper}${size}${more}.`;
  });
}

/** The verdict table in markdown, with a note for each claim measured on other data. */
export function claimsTable(report: ClaimsReport, ids?: readonly string[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const rows = [line(CLAIMS_COLUMNS), line(CLAIMS_COLUMNS.map(() => "---")), ...claimsRows(report, ids).map(line)];
  const shown = report.claims.filter((c) => !ids || ids.includes(c.id));
  const notes = shown.filter((c) => c.data).map((c) => `${c.title}: ${c.data}.`);
  if (shown.some((c) => c.figures.some((f) => f.metric === "overfittingGap"))) notes.push(OVERFITTING_NOTE);
  return [...rows, ...(notes.length ? ["", ...notes] : [])].join("\n");
}
