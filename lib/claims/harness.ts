// The claims harness: trains each claim's control and treatment over seeds on
// the same data with the same budget, then reads the paired effect against the
// paper's figure (reading.ts, with lib/eval/verdict.ts). Runs are keyed by their settings, so a
// configuration several claims share (the recipe itself) trains once per seed,
// and finished runs are kept in DIR/finished.json: an interrupted `reproduce`
// carries on without redoing them, and a half-trained run resumes from its
// checkpoint. Before any effect is read, the report says whether the network
// learned (validation error well below chance); a model at chance shows no
// effect of anything, so its verdicts are marked unreadable.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../files";
import { embeddedDataset } from "../data/embedded";
import { openDataset } from "../data/shards";
import type { DatasetStatistics } from "../data/stats";
import { closeEvalTarget, evaluateProtocols, openEvalTarget } from "../eval/report";
import { type InitScheme, layerInit } from "../model/init";
import { type ProfileName, parseProfile } from "../profiles";
import { isRunFolder, readRunMetrics } from "../run/run";
import { trainProfile } from "../train/profiles";
import { train } from "../train/trainer";
import type { ProgressMode } from "../viz/training";
import { figure1Result, figure1Runs, type Figure1Record } from "./figure1";
import { type Claim, type ClaimSettings, PAPER_CLAIMS, claimById } from "./paper-claims";
import {
  type ClaimResult,
  type ClaimsBudget,
  type ClaimsReport,
  type OnRun,
  type RunRecord,
  bits,
  claimResult,
  notApplicable,
} from "./reading";

/** Each profile's budget per run (ClaimsBudget, reading.ts, says what each field means). */
export const CLAIMS_BUDGET: Record<ProfileName, ClaimsBudget> = {
  smoke: { epochs: 1, perClass: { train: 4, val: 2 }, batchSize: 8 },
  // 2,000 images seen 10 times: 20,000 training images a run, about two minutes on 2 cores (the
  // laptop profile sees 32,000). bench/results/augmentation.json's runs on the same 2,000 images
  // were at 35-50% validation error after 8 to 10 epochs at the first rate; the drop after 80%
  // of the epochs takes a few points more, so the recipe is well below chance (90%) by the end.
  laptop: { epochs: 10, perClass: { train: 200, val: 100 } },
  paper: { epochs: 90 },
};

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
  onRun?: OnRun;
}

/** Greyscale data stored as RGB: every channel has the same mean and the covariance is one value throughout. */
export function isGreyscale(stats: Pick<DatasetStatistics, "channelMean" | "covariance">): boolean {
  const c = stats.covariance;
  const scale = Math.max(1e-9, Math.abs(c[0][0]));
  return (
    c.every((row) => row.every((v) => Math.abs(v - c[0][0]) <= 1e-6 * scale)) &&
    stats.channelMean.every((m) => Math.abs(m - stats.channelMean[0]) <= 1e-6 * Math.max(1, stats.channelMean[0]))
  );
}

/** The training part of a configuration's settings (the test protocol does not change the run). */
function trainingSettings(s: ClaimSettings): Omit<ClaimSettings, "protocol"> {
  const { protocol: _protocol, ...rest } = s;
  return rest;
}

// What the builder and trainer do when a setting is not given (lib/model/alexnet.ts, lib/train/settings.ts).
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

function readFinished(file: string, identity: FinishedFile["identity"]): FinishedFile {
  if (!existsSync(file)) return { identity, runs: [], figure1: [] };
  const kept = JSON.parse(readFileSync(file, "utf8")) as FinishedFile;
  if (JSON.stringify(kept.identity) !== JSON.stringify(identity)) {
    throw new Error(
      `${file} holds runs of another setup (${JSON.stringify(kept.identity)}), not ${JSON.stringify(identity)}; pass another --out, or delete the folder ${path.dirname(file)} (its run folders too) to start again.`,
    );
  }
  return { ...kept, figure1: kept.figure1 ?? [] };
}

function writeFinished(file: string, finished: FinishedFile): void {
  writeFileAtomicSync(file, `${JSON.stringify(finished, null, 1)}\n`); // a reader never sees half a file, even after Ctrl-C
}

/** One training run (or test-time evaluation) a claim needs: settings and a seed. */
interface ClaimsJob {
  claim: Claim;
  configuration: string;
  settings: ClaimSettings;
  seed: number;
  testTime: boolean;
}

/** What every job of one reproduce call shares. */
interface JobContext {
  profile: ProfileName;
  budget: ClaimsBudget;
  dataDir: string;
  runs: RunRecord[];
  runDirOf: (key: string, seed: number) => string;
  /** Writes finished.json: called after each run, so Ctrl-C loses at most the run in progress. */
  save: () => void;
  options: ReproduceOptions;
}

/** Runs the claims and reports each one's configurations, effects and verdicts. */
export async function reproduce(options: ReproduceOptions): Promise<ClaimsReport> {
  const profile = parseProfile(options.profile ?? "smoke");
  const budget = CLAIMS_BUDGET[profile];
  const seeds = [...(options.seeds ?? [1, 2, 3])];
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s)))
    throw new Error(`reproduce: seeds must be whole numbers, got [${seeds.join(", ")}].`);
  const claims = (options.claims?.length ? options.claims : PAPER_CLAIMS.map((c) => c.id)).map(claimById);
  const data = await claimsData(options, profile, budget);

  mkdirSync(options.dir, { recursive: true });
  const finishedFile = path.join(options.dir, "finished.json");
  const finished = readFinished(finishedFile, { profile, data: data.dir, budget, harness: HARNESS_VERSION });
  const runDirOf = (key: string, seed: number) => path.join(options.dir, "runs", `${key}-seed${seed}`);
  if (backfillCurves(finished.runs, runDirOf)) writeFinished(finishedFile, finished);
  const save = () => writeFinished(finishedFile, finished);
  const applicable = (c: Claim) => !(c.colour && data.greyscale);

  const jobs = claimJobs(
    claims.filter((c) => applicable(c) && !c.figure1),
    seeds,
    profile,
  );
  let status = await runJobs(jobs, { profile, budget, dataDir: data.dir, runs: finished.runs, runDirOf, save, options });

  const figure1 = finished.figure1!;
  let figure1Data: string | undefined;
  if (status === "completed" && claims.some((c) => c.figure1)) {
    const got = await figure1Runs({
      profile,
      seeds,
      data: options.data,
      finished: figure1,
      save,
      onRun: options.onRun,
      signal: options.signal,
    });
    figure1Data = got.why;
    if (got.interrupted) status = "interrupted";
  }

  const chance = 1 - 1 / data.classes;
  const results = claims.map((claim): ClaimResult => {
    if (claim.figure1) return figure1Result(claim, seeds, figure1, figure1Data, profile);
    if (!applicable(claim)) return notApplicable(claim, chance, "PCA lighting works on the RGB covariance; this data is greyscale");
    const recordsOf = (s: ClaimSettings) =>
      seeds.map((seed) => findRun(finished.runs, settingsKey(s, profile), seed)).filter((r): r is RunRecord => r !== undefined);
    return claimResult(
      claim,
      seeds.length,
      recordsOf(claim.control.settings),
      claim.testTime ? undefined : recordsOf(claim.treatment.settings),
      chance,
    );
  });
  return { profile, data, budget, seeds, status, harness: HARNESS_VERSION, claims: results };
}

/** The data every claim trains on (the profile's embedded set at the budget's size unless given), and the facts the report states of it. */
async function claimsData(options: ReproduceOptions, profile: ProfileName, budget: ClaimsBudget): Promise<ClaimsReport["data"]> {
  const recipe = trainProfile(profile);
  const progress = options.progress === "silent" ? "silent" : undefined;
  const dir = options.data
    ? path.resolve(options.data)
    : (await embeddedDataset(profile, { size: recipe.recordSize, ...(budget.perClass ? { perClass: budget.perClass } : {}), progress }))
        .dir;
  const dataset = openDataset(dir);
  try {
    return {
      dir,
      classes: dataset.classes.length,
      train: dataset.split("train").length,
      val: dataset.split("val").length,
      greyscale: isGreyscale(dataset.statistics()),
      source: dataset.manifest.preprocessing.source,
    };
  } finally {
    await dataset.close();
  }
}

/** Every (settings, seed) pair the claims need, each once: the recipe several claims share trains once per seed. */
function claimJobs(claims: Claim[], seeds: number[], profile: ProfileName): ClaimsJob[] {
  const jobs: ClaimsJob[] = [];
  const seen = new Set<string>();
  for (const claim of claims) {
    for (const seed of seeds) {
      for (const conf of claim.testTime ? [claim.control] : [claim.control, claim.treatment]) {
        const id = `${settingsKey(conf.settings, profile)}|${seed}|${claim.testTime ? "test" : ""}`;
        if (seen.has(id)) continue;
        seen.add(id);
        jobs.push({
          claim,
          configuration: claim.testTime ? "the recipe, tested both ways" : conf.name,
          settings: conf.settings,
          seed,
          testTime: !!claim.testTime,
        });
      }
    }
  }
  return jobs;
}

/** A finished run of these settings and seed; for a test-time job, one that was also tested both ways. */
function findRun(runs: RunRecord[], key: string, seed: number, testTime = false): RunRecord | undefined {
  return runs.find((r) => r.key === key && r.seed === seed && (!testTime || r.tenWrong !== undefined));
}

/** Runs the jobs not already finished, in order; "interrupted" when the signal or a stopped run ends them early. */
async function runJobs(jobs: ClaimsJob[], ctx: JobContext): Promise<ClaimsReport["status"]> {
  const { options } = ctx;
  for (const [index, job] of jobs.entries()) {
    const key = settingsKey(job.settings, ctx.profile);
    const kept = !!findRun(ctx.runs, key, job.seed, job.testTime);
    options.onRun?.({ claim: job.claim.id, configuration: job.configuration, seed: job.seed, index, total: jobs.length, kept });
    if (kept) continue;
    if (options.signal?.aborted) return "interrupted";
    const runDir = ctx.runDirOf(key, job.seed);
    let record = findRun(ctx.runs, key, job.seed);
    if (!record) {
      record = await trainRun(job, key, runDir, ctx);
      if (!record) return "interrupted";
      ctx.runs.push(record);
      ctx.save();
    }
    if (job.testTime) {
      Object.assign(record, await testBothWays(runDir, options.workers));
      ctx.save();
    }
  }
  return "completed";
}

/** Trains one configuration and seed (resuming its folder if a run was cut short); undefined when it was stopped. */
async function trainRun(job: ClaimsJob, key: string, runDir: string, ctx: JobContext): Promise<RunRecord | undefined> {
  const { budget, options } = ctx;
  const s = trainingSettings(job.settings);
  const t0 = performance.now();
  const r = await train({
    runDir,
    resume: isRunFolder(runDir),
    profile: ctx.profile,
    data: ctx.dataDir,
    seed: job.seed,
    epochs: budget.epochs,
    ...(budget.batchSize ? { batchSize: budget.batchSize } : {}),
    modelOptions: { ...trainProfile(ctx.profile).modelOptions, ...s.modelOptions },
    ...(s.cropsAndReflections !== undefined ? { cropsAndReflections: s.cropsAndReflections } : {}),
    ...(s.lighting !== undefined ? { lighting: s.lighting } : {}),
    ...(s.inputScale !== undefined ? { inputScale: s.inputScale } : {}),
    keepLast: 1,
    workers: options.workers,
    progress: options.progress ?? "silent",
    signal: options.signal,
  });
  r.model.dispose();
  if (r.status === "interrupted" || !r.final) return undefined;
  // The trainer's training error is counted on augmented batches with dropout on; the gap wants the
  // last model's error on the training images as the validation images are seen (centre patch, inference).
  const target = await openEvalTarget(runDir, { checkpoint: "last" });
  let trainCentreTop1Error: number;
  try {
    trainCentreTop1Error = (await evaluateProtocols(target, ["center"], { workers: options.workers, split: "train" })).center!.top1Error;
  } finally {
    await closeEvalTarget(target);
  }
  return {
    key,
    seed: job.seed,
    valTop1Error: r.final.valTop1Error,
    valTop5Error: r.final.valTop5Error,
    trainTop1Error: r.final.trainTop1Error,
    trainCentreTop1Error,
    firstTrainTop1Error: r.history[0].trainTop1Error,
    valTop1ByEpoch: r.history.map((h) => h.valTop1Error),
    epochs: r.history.length,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Which validation images the last model gets wrong by the centre patch and by ten patches, top-1 and top-5, as bit strings. */
async function testBothWays(
  runDir: string,
  workers: number | undefined,
): Promise<Pick<RunRecord, "centreWrong" | "tenWrong" | "centreTop5Wrong" | "tenTop5Wrong">> {
  // The last epoch's model, as every other claim reads: the best checkpoint was picked by the centre patch's error on these same images.
  const target = await openEvalTarget(runDir, { checkpoint: "last" });
  try {
    const e = await evaluateProtocols(target, ["center", "ten-crop"], { workers });
    const wrong = (k: 1 | 5) => (ev: NonNullable<typeof e.center>) =>
      ev.predictions.map((p) => !p.top.slice(0, k).some((t) => t.class === p.label));
    return {
      centreWrong: bits(wrong(1)(e.center!)),
      tenWrong: bits(wrong(1)(e["ten-crop"]!)),
      centreTop5Wrong: bits(wrong(5)(e.center!)),
      tenTop5Wrong: bits(wrong(5)(e["ten-crop"]!)),
    };
  } finally {
    await closeEvalTarget(target);
  }
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
