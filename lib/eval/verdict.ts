// What a measured effect says about one of the paper's claims. An effect is
// treatment minus control, paired: by seed for training claims (the same
// initial weights, data order and augmentation draws, one setting changed), by
// image for test-time claims (one model, two ways of testing it). The verdict
// reads only the 95% interval's position against zero and the paper's sign:
// "reproduced" (same sign, zero excluded), "opposite" (zero excluded, other
// sign) or "below resolution" (zero inside: this many seeds or images cannot
// tell). Whether the interval also holds the paper's own figure is reported
// apart, since a small network on small data can agree in sign and not in size.
import { type MeanSd, pairedDifference, tQuantile975 } from "./stats";

export type Verdict = "reproduced" | "opposite" | "below resolution";

export interface Interval {
  mean: number;
  /** 95% interval; NaN when it cannot be computed (one seed). */
  low: number;
  high: number;
}

/** The verdict on a measured effect against the paper's signed figure (never 0: every claim has a direction). */
export function verdictOf(effect: Interval, paper: number): Verdict {
  if (!(Number.isFinite(paper) && paper !== 0)) throw new Error(`verdictOf: the paper's effect must be a non-zero number (its sign is the claim), got ${paper}.`);
  if (!(Number.isFinite(effect.low) && Number.isFinite(effect.high))) return "below resolution";
  if (effect.low <= 0 && effect.high >= 0) return "below resolution";
  return Math.sign(effect.mean) === Math.sign(paper) ? "reproduced" : "opposite";
}

/** Whether the interval holds the paper's figure itself (the size, not only the sign). */
export function containsPaper(effect: Interval, paper: number): boolean {
  return Number.isFinite(effect.low) && Number.isFinite(effect.high) && effect.low <= paper && paper <= effect.high;
}

/**
 * How many seeds a paired t interval needs, at the measured spread of the
 * per-seed differences, before its half-width is below |paper|: the smallest n
 * with t(n - 1) * sd / sqrt(n) < |paper|. Undefined without a spread (one seed);
 * capped at `max` (returns Infinity beyond it), since an effect far below the
 * noise is not worth a number.
 */
export function seedsToResolve(sd: number, paper: number, max = 1000): number | undefined {
  if (!Number.isFinite(sd)) return undefined;
  if (sd === 0) return 2;
  for (let n = 2; n <= max; n++) if ((tQuantile975(n - 1) * sd) / Math.sqrt(n) < Math.abs(paper)) return n;
  return Infinity;
}

export interface SeedEffect extends Interval, MeanSd {
  kind: "difference" | "log-ratio";
  /** Treatment minus control for each seed (for "log-ratio": log treatment - log control). */
  perSeed: number[];
  /** The paper's figure on the same scale (a log for "log-ratio"). */
  paper: number;
  verdict: Verdict;
  containsPaper: boolean;
  seedsToResolve: number | undefined;
  /** For "log-ratio": the ratio treatment / control and its interval (exp of the log scale). */
  ratio?: { mean: number; low: number; high: number };
}

/** A difference of a metric (e.g. validation top-1 error) between two configurations, paired by seed. */
export function seedDifference(control: readonly number[], treatment: readonly number[], paper: number): SeedEffect {
  const d = pairedDifference(control, treatment);
  return { kind: "difference", ...d, perSeed: d.perPair, paper, verdict: verdictOf(d, paper), containsPaper: containsPaper(d, paper), seedsToResolve: seedsToResolve(d.sd, paper) };
}

/**
 * A ratio claim (ReLU's "six times faster", dropout's "roughly doubles the
 * iterations"), measured on the log scale so that the interval and the verdict
 * are defined there: log(treatment / control) per seed. `paperRatio` is the
 * paper's treatment / control (6 for tanh's steps over ReLU's).
 */
export function seedLogRatio(control: readonly number[], treatment: readonly number[], paperRatio: number): SeedEffect {
  for (const x of [...control, ...treatment]) if (!(x > 0)) throw new Error(`seedLogRatio: a ratio needs positive values (steps, iterations), got ${x}.`);
  if (!(paperRatio > 0 && paperRatio !== 1)) throw new Error(`seedLogRatio: the paper's ratio must be positive and not 1, got ${paperRatio}.`);
  const paper = Math.log(paperRatio);
  const d = pairedDifference(control.map(Math.log), treatment.map(Math.log));
  return {
    kind: "log-ratio",
    ...d,
    perSeed: d.perPair,
    paper,
    verdict: verdictOf(d, paper),
    containsPaper: containsPaper(d, paper),
    seedsToResolve: seedsToResolve(d.sd, paper),
    ratio: { mean: Math.exp(d.mean), low: Math.exp(d.low), high: Math.exp(d.high) },
  };
}

export interface PairedImagesEffect extends Interval {
  kind: "mcnemar";
  images: number;
  /** Images the control got wrong and the treatment right. */
  fixed: number;
  /** Images the control got right and the treatment wrong. */
  broken: number;
  /** Exact two-sided McNemar p-value (binomial on fixed + broken at 1/2). */
  p: number;
  paper: number;
  verdict: Verdict;
  containsPaper: boolean;
  /**
   * Images a paired test at this discordance would need before its half-width is
   * below |paper|: 1.96^2 (q - paper^2) / paper^2 for a discordance q. Infinity
   * when q < |paper|: so few images change their answer that the paper's effect
   * cannot happen here at all.
   */
  imagesToResolve: number;
}

/** log C(n, k) by summing logs: exact enough for the few thousand images a validation split holds. */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** Exact two-sided McNemar test: P(at least as unbalanced) for Binomial(fixed + broken, 1/2). */
export function mcnemarP(fixed: number, broken: number): number {
  const n = fixed + broken;
  if (n === 0) return 1;
  const k = Math.min(fixed, broken);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

/**
 * A test-time claim on one model: error with the treatment minus error with the
 * control, on the same images. `controlWrong[i]` and `treatmentWrong[i]` say
 * whether image i was misclassified. The interval is Wald's for a difference of
 * paired proportions; the verdict reads it as for seeds, and the McNemar p-value
 * is reported beside it.
 */
export function pairedImages(controlWrong: readonly boolean[], treatmentWrong: readonly boolean[], paper: number): PairedImagesEffect {
  if (controlWrong.length !== treatmentWrong.length) throw new Error(`pairedImages: ${controlWrong.length} images against ${treatmentWrong.length}; both must be the same images.`);
  const images = controlWrong.length;
  if (images === 0) throw new Error("pairedImages: no images.");
  let fixed = 0;
  let broken = 0;
  for (let i = 0; i < images; i++) {
    if (controlWrong[i] && !treatmentWrong[i]) fixed++;
    if (!controlWrong[i] && treatmentWrong[i]) broken++;
  }
  const mean = (broken - fixed) / images;
  const discordance = (fixed + broken) / images;
  const half = (1.96 * Math.sqrt(Math.max(0, discordance - mean * mean))) / Math.sqrt(images);
  const interval = { mean, low: mean - half, high: mean + half };
  return {
    kind: "mcnemar",
    ...interval,
    images,
    fixed,
    broken,
    p: mcnemarP(fixed, broken),
    paper,
    verdict: verdictOf(interval, paper),
    containsPaper: containsPaper(interval, paper),
    imagesToResolve: discordance < Math.abs(paper) ? Infinity : Math.ceil((1.96 ** 2 * (discordance - paper * paper)) / (paper * paper)),
  };
}
