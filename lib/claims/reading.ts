// Reading a claim's finished runs: each configuration's mean and spread, the
// gate that asks whether anything learned, and each figure's paired effect
// against the paper's (lib/eval/verdict.ts). Pure: no training, no files; the
// harness (harness.ts) trains the runs and calls claimResult on them.
import type { ProfileName } from "../profiles";
import { type MeanSd, meanSd } from "../eval/stats";
import {
  type PairedImagesEffect,
  type SeedEffect,
  type Verdict,
  pairedImages,
  seedDifference,
  seedLogRatio,
  verdictOf,
} from "../eval/verdict";
import type { Claim, ClaimMetric, PaperFigure } from "./paper-claims";

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

/** Called before each training run and each test-time evaluation. */
export type OnRun = (info: { claim: string; configuration: string; seed: number; index: number; total: number; kept: boolean }) => void;

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
  configurations: ({ name: string; role: "control" | "treatment"; learnedSeeds?: number } & Partial<
    Record<ClaimMetric | "trainTop1Error" | "trainCentreTop1Error" | "seconds", MeanSd>
  >)[];
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

export const bits = (xs: readonly boolean[]) => xs.map((x) => (x ? "1" : "0")).join("");
export const unbits = (s: string) => Array.from(s, (c) => c === "1");

/** One run learned: validation top-1 at most half of chance, and its training error fell after the first epoch. */
export function learnedRun(
  r: Pick<RunRecord, "valTop1Error" | "trainTop1Error" | "firstTrainTop1Error" | "epochs">,
  chance: number,
): boolean {
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

/** How close to the level both configurations reached a run must come to count as converged: a tenth of the improvement over chance. */
export const CONVERGED_WITHIN = 0.1;

/** The lowest validation top-1 of a run's curve (Infinity for no curve). */
const bestOf = (r: RunRecord | undefined) => (r?.valTop1ByEpoch?.length ? Math.min(...r.valTop1ByEpoch) : Infinity);

/**
 * Epochs to converge, for each run of a claim: epochs until its validation
 * top-1 comes within CONVERGED_WITHIN of the improvement over chance that both
 * configurations reached in that seed (the worse of the two best errors). Both
 * arms get there by construction, so nothing is censored at the budget, and two
 * identical configurations give a ratio of 1 in expectation: a mark set by the
 * control alone would have the control reach its own best noise by definition
 * and the treatment chase it. A run with no curve gives NaN.
 */
export function convergence(control: readonly RunRecord[], treatment: readonly RunRecord[], chance: number): ToTarget {
  return (r) => {
    const worse = Math.max(bestOf(control.find((x) => x.seed === r.seed)), bestOf(treatment.find((x) => x.seed === r.seed)));
    if (!r.valTop1ByEpoch?.length || !Number.isFinite(worse)) return { epochs: NaN, reached: false };
    return epochsToTarget(r.valTop1ByEpoch, worse + CONVERGED_WITHIN * (chance - worse), chance);
  };
}

export type ToTarget = (r: RunRecord) => { epochs: number; reached: boolean };

function metricOf(r: RunRecord, metric: ClaimMetric, toTarget: ToTarget): number {
  if (metric === "stepsToTarget") throw new Error("stepsToTarget is Figure 1's metric, measured by figure1Runs.");
  if (metric === "epochsToTarget") return toTarget(r).epochs;
  if (metric === "overfittingGap") return r.valTop1Error - r.trainCentreTop1Error;
  return metric === "earlyTrainTop1Error" ? r.firstTrainTop1Error : r[metric];
}

function figureResult(
  f: PaperFigure,
  claim: Claim,
  control: RunRecord[],
  treatment: RunRecord[],
  learned: boolean,
  toTarget: ToTarget,
): FigureResult {
  // Without the paper's size only its direction is judged: the sign stands in for the figure.
  const paper = f.value ?? f.sign;
  let effect: SeedEffect | PairedImagesEffect;
  if (claim.testTime) {
    const top5 = f.metric === "valTop5Error";
    // One answer sheet per seed's model; pairedImages averages them within each image.
    const sheets = (pick: (r: RunRecord) => string | undefined) => control.map((r) => unbits(pick(r)!));
    effect = pairedImages(
      sheets((r) => (top5 ? r.centreTop5Wrong : r.centreWrong)),
      sheets((r) => (top5 ? r.tenTop5Wrong : r.tenWrong)),
      paper,
    );
  } else if (f.metric === "epochsToTarget") {
    effect = seedLogRatio(
      control.map((r) => toTarget(r).epochs),
      treatment.map((r) => toTarget(r).epochs),
      f.value!,
    );
  } else {
    effect = seedDifference(
      control.map((r) => metricOf(r, f.metric, toTarget)),
      treatment.map((r) => metricOf(r, f.metric, toTarget)),
      paper,
    );
  }
  const sized = f.value !== undefined;
  // A direction is no size: nothing "holds" it and no count of seeds "resolves" it, so those are left out.
  if (!sized)
    effect =
      effect.kind === "mcnemar"
        ? { ...effect, containsPaper: false, imagesToResolve: undefined }
        : { ...effect, containsPaper: false, seedsToResolve: undefined };
  const verdict = verdictOf(effect, paper);
  return {
    metric: f.metric,
    says: f.says,
    paper: f.value,
    effect,
    verdict,
    reading: learned ? verdict : "not read",
    containsPaper: sized ? effect.containsPaper : undefined,
    toResolve: !sized ? undefined : effect.kind === "mcnemar" ? { images: effect.imagesToResolve } : { seeds: effect.seedsToResolve },
  };
}

/** A claim that does not apply to this data (PCA lighting on greyscale images). */
export function notApplicable(claim: Claim, chance: number, why: string): ClaimResult {
  return {
    id: claim.id,
    title: claim.title,
    section: claim.section,
    source: claim.source,
    status: "not applicable",
    why,
    configurations: [],
    learned: { ok: false, chance, valTop1Error: NaN, trainFell: false },
    figures: [],
  };
}

/**
 * What one claim's finished runs say, `seeds` of each configuration expected:
 * each configuration's mean and spread, whether anything learned, and each
 * figure's paired effect and verdict. A test-time claim has no `treated` runs:
 * its control's models are tested both ways.
 */
export function claimResult(
  claim: Claim,
  seeds: number,
  control: RunRecord[],
  treated: RunRecord[] | undefined,
  chance: number,
): ClaimResult {
  const base = { id: claim.id, title: claim.title, section: claim.section, source: claim.source };
  const treatment = claim.testTime ? control : (treated ?? []);
  if (control.length < seeds || treatment.length < seeds || (claim.testTime && control.some((r) => r.tenWrong === undefined))) {
    return {
      ...base,
      status: "measured",
      why: "interrupted before every seed finished",
      configurations: [],
      learned: { ok: false, chance, valTop1Error: NaN, trainFell: false },
      figures: [],
    };
  }
  const learnedIn = (r: RunRecord) => learnedRun(r, chance);
  const toTarget = convergence(control, treatment, chance);
  const timed =
    claim.figures.some((f) => f.metric === "epochsToTarget") && [...control, ...treatment].every((r) => r.valTop1ByEpoch?.length);
  const summary = (
    name: string,
    role: "control" | "treatment",
    rs: RunRecord[],
    top1 = rs.map((r) => r.valTop1Error),
    top5 = rs.map((r) => r.valTop5Error),
  ) => ({
    name,
    role,
    learnedSeeds: rs.filter(learnedIn).length,
    valTop1Error: meanSd(top1),
    valTop5Error: meanSd(top5),
    trainTop1Error: meanSd(rs.map((r) => r.trainTop1Error)),
    trainCentreTop1Error: meanSd(rs.map((r) => r.trainCentreTop1Error)),
    overfittingGap: meanSd(rs.map((r) => metricOf(r, "overfittingGap", toTarget))),
    earlyTrainTop1Error: meanSd(rs.map((r) => r.firstTrainTop1Error)),
    ...(timed ? { epochsToTarget: meanSd(rs.map((r) => toTarget(r).epochs)) } : {}),
    // Training and the training-split evaluation, per run (a test-time claim's second protocol is not counted).
    seconds: meanSd(rs.map((r) => r.seconds)),
  });
  const rate = (s: string) => unbits(s).filter(Boolean).length / s.length;
  const configurations = claim.testTime
    ? [
        summary(
          claim.control.name,
          "control" as const,
          control,
          control.map((r) => rate(r.centreWrong!)),
          control.map((r) => rate(r.centreTop5Wrong!)),
        ),
        summary(
          claim.treatment.name,
          "treatment" as const,
          control,
          control.map((r) => rate(r.tenWrong!)),
          control.map((r) => rate(r.tenTop5Wrong!)),
        ),
      ]
    : [summary(claim.control.name, "control", control), summary(claim.treatment.name, "treatment", treatment)];
  const learned = learnedGate(control, treatment, chance);
  const unmeasured: NonNullable<ClaimResult["unmeasured"]> = [];
  const figures = claim.figures.flatMap((f) => {
    if (f.metric === "epochsToTarget") {
      // Records kept from before the curves were recorded, whose run folders are gone, cannot give this figure.
      if (!timed)
        return (
          unmeasured.push({
            metric: f.metric,
            why: "these runs were kept from before validation curves were recorded, and their run folders are gone",
          }),
          []
        );
      // A configuration that never got below chance reached no level to time the other against.
      const flat = [...control, ...treatment].filter((r) => bestOf(r) >= chance);
      if (flat.length)
        return (
          unmeasured.push({
            metric: f.metric,
            why: `${[...new Set(flat.map((r) => (control.includes(r) ? claim.control.name : claim.treatment.name)))].join(" and ")} never got below chance (seed ${[...new Set(flat.map((r) => r.seed))].join(", ")}), so there is no convergence to time`,
          }),
          []
        );
    }
    return [figureResult(f, claim, control, treatment, learned.ok, toTarget)];
  });
  return { ...base, status: "measured", configurations, learned, figures, ...(unmeasured.length ? { unmeasured } : {}) };
}
