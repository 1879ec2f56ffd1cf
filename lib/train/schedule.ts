// Learning-rate schedules, decided once per epoch.
//
// The paper: "an equal learning rate for all layers, which we adjusted manually
// throughout training. The heuristic which we followed was to divide the
// learning rate by 10 when the validation error rate stopped improving with the
// current learning rate. The learning rate was initialized at 0.01 and reduced
// three times prior to termination." PlateauSchedule makes "stopped improving"
// a rule: no improvement for `patience` epochs (the paper gives no number).
// StepSchedule is torchvision's recipe: x0.1 every 30 epochs.
//
// Both hold only numbers, so getState/setState give an exact resume.

export interface ScheduleDecision {
  /** Epochs completed, this one included. */
  epoch: number;
  /** The learning rate for the next epoch. */
  lr: number;
  previousLr: number;
  changed: boolean;
  /** One sentence, e.g. "val top-1 error 42.1% did not improve on 41.8% for 3 epochs: lr 0.01 -> 0.001". */
  reason: string;
}

/** Rates are rounded to 12 significant digits, so 0.01 x 0.1^2 reads 0.0001 and not 0.00010000000000000002. */
export function roundRate(lr: number): number {
  return Number(lr.toPrecision(12));
}

function checkPositive(value: number, what: string, owner: string): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
    throw new Error(`${owner}: ${what} must be a finite number > 0, got ${String(value)}.`);
}

function checkCount(value: number, what: string, owner: string, min = 0): void {
  if (!Number.isInteger(value) || value < min) throw new Error(`${owner}: ${what} must be an integer >= ${min}, got ${String(value)}.`);
}

function checkFactor(factor: number, owner: string): void {
  if (typeof factor !== "number" || !(factor > 0 && factor < 1))
    throw new Error(`${owner}: factor must be between 0 and 1 (0.1 divides by 10), got ${String(factor)}.`);
}

// ---------- plateau ----------

export interface PlateauScheduleOptions {
  /** Default 0.01 (the paper). */
  initial?: number;
  /** Multiplies the rate on a plateau. Default 0.1 ("divide by 10"). */
  factor?: number;
  /** Epochs without improvement before a reduction. Default 5 (the paper gives none). */
  patience?: number;
  /** Default 3 ("reduced three times"); after that the rate stays. */
  maxReductions?: number;
  /** An epoch improves only if it beats the best by more than this. Default 0. */
  minDelta?: number;
  /** Named in the reasons. Default "val top-1 error". */
  metricName?: string;
  /** How values are printed: "percent" (0.421 -> 42.1%, the default) or "number". */
  format?: "percent" | "number";
}

export interface PlateauScheduleState {
  kind: "plateau";
  initial: number;
  factor: number;
  patience: number;
  maxReductions: number;
  minDelta: number;
  metricName: string;
  format: "percent" | "number";
  lr: number;
  /** The best value seen so far (lower is better), null before the first epoch. */
  best: number | null;
  /** Consecutive epochs that did not improve on best. */
  badEpochs: number;
  reductions: number;
  epoch: number;
}

function formatValue(value: number, format: "percent" | "number", digits: number): string {
  return format === "percent" ? `${(value * 100).toFixed(digits)}%` : value.toFixed(digits + 2);
}

/** Two values printed with as few decimals as tell them apart (at most 4). */
function formatPair(a: number, b: number, format: "percent" | "number"): [string, string] {
  let digits = 1;
  while (digits < 4 && a !== b && formatValue(a, format, digits) === formatValue(b, format, digits)) digits++;
  return [formatValue(a, format, digits), formatValue(b, format, digits)];
}

/** Divides the learning rate by 10 (by default) when validation error stops improving; lower values are better. */
export class PlateauSchedule {
  private s: PlateauScheduleState;

  constructor(options: PlateauScheduleOptions = {}) {
    const s: PlateauScheduleState = {
      kind: "plateau",
      initial: options.initial ?? 0.01,
      factor: options.factor ?? 0.1,
      patience: options.patience ?? 5,
      maxReductions: options.maxReductions ?? 3,
      minDelta: options.minDelta ?? 0,
      metricName: options.metricName ?? "val top-1 error",
      format: options.format ?? "percent",
      lr: 0,
      best: null,
      badEpochs: 0,
      reductions: 0,
      epoch: 0,
    };
    s.lr = s.initial;
    PlateauSchedule.validate(s);
    this.s = s;
  }

  private static validate(s: PlateauScheduleState): void {
    const owner = "PlateauSchedule";
    if (s.kind !== "plateau")
      throw new Error(
        `${owner}.setState: this state is for a "${String(s.kind)}" schedule; restore it into ${s.kind === "step" ? "a StepSchedule" : "the schedule that saved it"} (scheduleFromState picks the class).`,
      );
    checkPositive(s.initial, "initial", owner);
    checkFactor(s.factor, owner);
    checkCount(s.patience, "patience", owner, 1);
    checkCount(s.maxReductions, "maxReductions", owner);
    if (typeof s.minDelta !== "number" || !(s.minDelta >= 0))
      throw new Error(`${owner}: minDelta must be a number >= 0, got ${String(s.minDelta)}.`);
    if (s.format !== "percent" && s.format !== "number")
      throw new Error(`${owner}: format must be "percent" or "number", got ${String(s.format)}.`);
    checkPositive(s.lr, "lr", owner);
    if (s.best !== null && !Number.isFinite(s.best))
      throw new Error(`${owner}: best must be a finite number or null, got ${String(s.best)}.`);
    checkCount(s.badEpochs, "badEpochs", owner);
    checkCount(s.reductions, "reductions", owner);
    checkCount(s.epoch, "epoch", owner);
  }

  get lr(): number {
    return this.s.lr;
  }

  get reductions(): number {
    return this.s.reductions;
  }

  get best(): number | null {
    return this.s.best;
  }

  /** Call after each epoch with its validation error; returns the rate for the next epoch and why. */
  step(valError: number): ScheduleDecision {
    const s = this.s;
    if (typeof valError !== "number" || !Number.isFinite(valError)) {
      throw new Error(
        `PlateauSchedule.step: ${s.metricName} must be a finite number, got ${String(valError)}; evaluate the model on the validation set before stepping the schedule.`,
      );
    }
    s.epoch += 1;
    const previousLr = s.lr;
    const name = s.metricName;
    let reason: string;
    if (s.best === null || valError < s.best - s.minDelta) {
      const [now, before] = formatPair(valError, s.best ?? valError, s.format);
      reason =
        s.best === null
          ? `${name} ${now} is the first measurement: lr stays ${s.lr}`
          : `${name} ${now} improved on ${before}: lr stays ${s.lr}`;
      s.best = valError;
      s.badEpochs = 0;
    } else {
      s.badEpochs += 1;
      const [now, best] = formatPair(valError, s.best, s.format);
      const stalled = `${name} ${now} did not improve on ${best}`;
      const epochs = `${s.badEpochs} epoch${s.badEpochs === 1 ? "" : "s"}`;
      if (s.badEpochs < s.patience) {
        reason = `${stalled} for ${epochs} (patience ${s.patience}): lr stays ${s.lr}`;
      } else if (s.reductions < s.maxReductions) {
        s.reductions += 1;
        s.lr = roundRate(s.initial * Math.pow(s.factor, s.reductions));
        s.badEpochs = 0;
        reason = `${stalled} for ${epochs}: lr ${previousLr} -> ${s.lr}`;
      } else {
        reason = `${stalled} for ${epochs}, but lr was already reduced ${s.maxReductions} time${s.maxReductions === 1 ? "" : "s"} (maxReductions): lr stays ${s.lr}`;
      }
    }
    return { epoch: s.epoch, lr: s.lr, previousLr, changed: s.lr !== previousLr, reason };
  }

  getState(): PlateauScheduleState {
    return { ...this.s };
  }

  /** Restores everything, options included, from getState. */
  setState(state: PlateauScheduleState): void {
    const s = { ...state };
    PlateauSchedule.validate(s);
    this.s = s;
  }
}

// ---------- step ----------

export interface StepScheduleOptions {
  /** Default 0.01. */
  initial?: number;
  /** Default 0.1. */
  factor?: number;
  /** Epochs between reductions. Default 30 (torchvision's ImageNet recipe). */
  every?: number;
  /** At most this many reductions (1: one drop, after epoch `every`). Default: no limit. */
  maxSteps?: number;
}

export interface StepScheduleState {
  kind: "step";
  initial: number;
  factor: number;
  every: number;
  epoch: number;
  /** Absent: no limit (states saved before it existed). */
  maxSteps?: number;
}

/** lr = initial x factor^min(floor(epoch / every), maxSteps), epoch counting completed epochs. */
export class StepSchedule {
  private s: StepScheduleState;

  constructor(options: StepScheduleOptions = {}) {
    const s: StepScheduleState = {
      kind: "step",
      initial: options.initial ?? 0.01,
      factor: options.factor ?? 0.1,
      every: options.every ?? 30,
      epoch: 0,
      ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
    };
    StepSchedule.validate(s);
    this.s = s;
  }

  private static validate(s: StepScheduleState): void {
    const owner = "StepSchedule";
    if (s.kind !== "step")
      throw new Error(
        `${owner}.setState: this state is for a "${String(s.kind)}" schedule; restore it into ${s.kind === "plateau" ? "a PlateauSchedule" : "the schedule that saved it"} (scheduleFromState picks the class).`,
      );
    checkPositive(s.initial, "initial", owner);
    checkFactor(s.factor, owner);
    checkCount(s.every, "every", owner, 1);
    checkCount(s.epoch, "epoch", owner);
    if (s.maxSteps !== undefined) checkCount(s.maxSteps, "maxSteps", owner, 1);
  }

  private steps(epochsDone: number): number {
    return Math.min(Math.floor(epochsDone / this.s.every), this.s.maxSteps ?? Infinity);
  }

  /** The rate used after `epochsDone` completed epochs. */
  lrAt(epochsDone: number): number {
    checkCount(epochsDone, "epochsDone", "StepSchedule.lrAt");
    return roundRate(this.s.initial * Math.pow(this.s.factor, this.steps(epochsDone)));
  }

  get lr(): number {
    return this.lrAt(this.s.epoch);
  }

  /** Call after each epoch (the validation error is accepted and ignored). */
  step(_valError?: number): ScheduleDecision {
    const previousLr = this.lr;
    this.s.epoch += 1;
    const lr = this.lr;
    const once = this.s.maxSteps === 1;
    const rule = once
      ? `x${this.s.factor} once, after epoch ${this.s.every}`
      : `x${this.s.factor} every ${this.s.every} epochs${this.s.maxSteps !== undefined ? `, at most ${this.s.maxSteps} times` : ""}`;
    const done = this.steps(this.s.epoch) >= (this.s.maxSteps ?? Infinity);
    const reason =
      lr !== previousLr
        ? `epoch ${this.s.epoch} done: lr ${previousLr} -> ${lr} (${rule})`
        : `epoch ${this.s.epoch} done: lr stays ${lr} (${rule}${done ? "" : `; next change after epoch ${(Math.floor(this.s.epoch / this.s.every) + 1) * this.s.every}`})`;
    return { epoch: this.s.epoch, lr, previousLr, changed: lr !== previousLr, reason };
  }

  getState(): StepScheduleState {
    return { ...this.s };
  }

  setState(state: StepScheduleState): void {
    const s = { ...state };
    StepSchedule.validate(s);
    this.s = s;
  }
}

export type LrSchedule = PlateauSchedule | StepSchedule;
export type ScheduleState = PlateauScheduleState | StepScheduleState;

/** Rebuilds a schedule from its saved state, whichever kind it is. */
export function scheduleFromState(state: ScheduleState): LrSchedule {
  if (state.kind === "plateau") {
    const p = new PlateauSchedule();
    p.setState(state);
    return p;
  }
  if (state.kind === "step") {
    const s = new StepSchedule();
    s.setState(state);
    return s;
  }
  throw new Error(`scheduleFromState: unknown schedule kind "${String((state as { kind: unknown }).kind)}"; expected "plateau" or "step".`);
}

/** Restores a saved state into an existing schedule, whichever kind it is. */
export function restoreSchedule(schedule: LrSchedule, state: ScheduleState): void {
  if (schedule instanceof PlateauSchedule) {
    if (state.kind !== "plateau")
      throw new Error(
        `restoreSchedule: the saved schedule is a "${state.kind}" schedule but this one is a PlateauSchedule; build the same kind of schedule, or use scheduleFromState.`,
      );
    schedule.setState(state);
  } else {
    if (state.kind !== "step")
      throw new Error(
        `restoreSchedule: the saved schedule is a "${state.kind}" schedule but this one is a StepSchedule; build the same kind of schedule, or use scheduleFromState.`,
      );
    schedule.setState(state);
  }
}
