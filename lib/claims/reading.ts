// Reading a claim's finished runs: each configuration's mean and spread, the
// gate that asks whether anything learned, and each figure's paired effect
// against the paper's (lib/eval/verdict.ts). Pure: no training, no files; the
// harness (harness.ts) trains the runs and calls claimResult on them.
import type { ProfileName } from "../profiles";
import { type MeanSd, meanSd } from "../eval/stats";
import { type PairedImagesEffect, type SeedEffect, type Verdict, pairedImages, seedDifference, seedLogRatio, verdictOf } from "../eval/verdict";
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

export const bits = (xs: readonly boolean[]) => xs.map((x) => (x ? "1" : "0")).join("");
export const unbits = (s: string) => Array.from(s, (c) => c === "1");

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
  // A treatment run that never converged counts the budget, fewer epochs than it needs: the ratio is a lower
  // bound, its interval's upper end unknown. So only the lower end is read: it can show the paper's direction
  // and leave the paper's size possible, never "opposite" nor how many seeds would resolve it.
  // (The control converges by its own best epoch, by construction.)
  const lowerBound = !!censored?.treatment;
  const note = lowerBound
    ? `${claim.treatment.name} did not converge (come within ${100 * CONVERGED_WITHIN}% of ${claim.control.name}'s improvement over chance) within the budget in ${censored!.treatment} of ${treatment.length} seeds; those count the budget's ${treatment[0]?.epochs} epochs, so the ratio is a lower bound and only the interval's lower end is read`
    : undefined;
  const sized = f.value !== undefined;
  // A direction is no size: nothing "holds" it and no count of seeds "resolves" it, so those are left out.
  if (!sized) effect = effect.kind === "mcnemar" ? { ...effect, containsPaper: false, imagesToResolve: undefined } : { ...effect, containsPaper: false, seedsToResolve: undefined };
  const measured = verdictOf(effect, paper);
  const verdict = lowerBound && measured === "opposite" ? "below resolution" : measured;
  return {
    metric: f.metric,
    says: f.says,
    paper: f.value,
    effect,
    verdict,
    reading: learned ? verdict : "not read",
    containsPaper: !sized ? undefined : lowerBound ? effect.paper >= effect.low : effect.containsPaper,
    toResolve: !sized || lowerBound ? undefined : effect.kind === "mcnemar" ? { images: effect.imagesToResolve } : { seeds: effect.seedsToResolve },
    ...(note ? { note } : {}),
  };
}


/** A claim that does not apply to this data (PCA lighting on greyscale images). */
export function notApplicable(claim: Claim, chance: number, why: string): ClaimResult {
  return { id: claim.id, title: claim.title, section: claim.section, source: claim.source, status: "not applicable", why, configurations: [], learned: { ok: false, chance, valTop1Error: NaN, trainFell: false }, figures: [] };
}

/**
 * What one claim's finished runs say, `seeds` of each configuration expected:
 * each configuration's mean and spread, whether anything learned, and each
 * figure's paired effect and verdict. A test-time claim has no `treated` runs:
 * its control's models are tested both ways.
 */
export function claimResult(claim: Claim, seeds: number, control: RunRecord[], treated: RunRecord[] | undefined, chance: number): ClaimResult {
  const base = { id: claim.id, title: claim.title, section: claim.section, source: claim.source };
  const treatment = claim.testTime ? control : treated ?? [];
  if (control.length < seeds || treatment.length < seeds || (claim.testTime && control.some((r) => r.tenWrong === undefined))) {
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
}
