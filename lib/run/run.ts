// A training run on disk, the one module that knows its layout:
//
//   RUN/run.json                   the resolved settings (RunConfig); --resume reads them back
//   RUN/metrics.jsonl              one EpochMetrics object per finished epoch
//   RUN/checkpoints/epoch-NNNN/    after every epoch; checkpoint.json marks it complete
//   RUN/checkpoints/best.json      which epoch folder is best by validation top-1
//   RUN/interrupted/checkpoints/   a mid-epoch checkpoint of a stopped run
//   RUN/run.lock                   held by the process training the run (lock.ts)
//   RUN/superseded/                checkpoints a resume went back past (lib/train/resume.ts)
//   RUN/eval/                      what alexnet eval wrote about the run's checkpoints
//
// What is inside a checkpoint folder (weights, velocities, schedule state) is
// lib/train/checkpoint.ts's; what a folder holds as a trained network (a run,
// one of its checkpoints, or a model folder with card.json) is describe.ts's.
// It imports nothing from train or eval, so both can read runs through it.
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../files";
import { FolderInUseError, checkOutputFolder } from "../folders";
import type { AlexNetOptions, AlexNetVariant } from "../model/alexnet";
import type { InputNormalization } from "../model/card";

export const RUN_CONFIG_FILE = "run.json";
export const METRICS_FILE = "metrics.jsonl";
export const INTERRUPTED_DIR = "interrupted";
export const CHECKPOINTS_DIR = "checkpoints";
/** Written last into a checkpoint folder: a folder without it is not a checkpoint. */
export const CHECKPOINT_FILE = "checkpoint.json";
export const BEST_FILE = "best.json";
/** Checkpoints a resume went back past (damaged, or newer than --resume-from): kept, not deleted. */
export const SUPERSEDED_DIR = "superseded";
/** What alexnet eval writes into a run: RUN/eval/epoch-NNNN/. */
export const EVAL_DIR = "eval";
/** Exists while a process trains the run: its pid, host and start (lock.ts). */
export const LOCK_FILE = "run.lock";
/** A finished epoch's checkpoint folder: epoch-0003 after three epochs. */
export const EPOCH_DIR = /^epoch-(\d+)$/;

/** The learning-rate schedule a run was started with (lib/train/schedule.ts builds it). */
export type ScheduleSpec =
  | { kind: "plateau"; patience: number; maxReductions: number; factor: number }
  | { kind: "step"; every: number; factor: number }
  | { kind: "drop"; after: number; factor: number };

/** "features": conv1..conv5 are not trained (lib/train/finetune.ts freezes them). */
export type FreezeMode = "features" | "none";
export const FREEZE_MODES: readonly FreezeMode[] = ["features", "none"];

/** The settings a run was started with; a resumed run must keep them. */
export interface RunConfig {
  profile: string;
  data: string;
  model: AlexNetVariant;
  modelOptions: AlexNetOptions;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: ScheduleSpec;
  seed: number;
  crop: number;
  inputScale: number;
  lighting: number;
  /** Absent in runs written before it existed: true. */
  cropsAndReflections?: boolean;
  /** The init folder (absolute); absent for a run from random weights. */
  init?: string;
  /** Absent in runs written before fine-tuning: "none". */
  freeze?: FreezeMode;
  /** Absent in runs written before fine-tuning: 1. */
  featuresLrScale?: number;
  /**
   * Per-channel normalisation (x - mean[c]) * scale[c] of raw pixels (the loader
   * then subtracts no mean), before inputScale; from an init model's card.
   * Absent: the loader subtracts the dataset's mean image.
   */
  input?: InputNormalization;
}

export interface EpochMetrics {
  /** Epochs completed, this one included (from 1). */
  epoch: number;
  /** Optimiser steps completed over the run. */
  step: number;
  /** The learning rate this epoch was trained with. */
  lr: number;
  /** The rate the schedule chose for the next epoch, and why. */
  nextLr: number;
  schedule: string;
  /** Mean loss over the epoch's training batches (dropout on, augmented). */
  trainLoss: number;
  /** Top-1 error on the training batches as they were trained (dropout on, augmented, weights moving). */
  trainTop1Error: number;
  valLoss: number;
  valTop1Error: number;
  valTop5Error: number;
  /** Training images per second this epoch (validation excluded). */
  imagesPerSecond: number;
  /** Wall seconds of the epoch, validation included. */
  seconds: number;
  checkpoint: string;
  time: string;
}

export function isRunFolder(dir: string): boolean {
  return existsSync(path.join(dir, RUN_CONFIG_FILE));
}

export function isCheckpointFolder(dir: string): boolean {
  return existsSync(path.join(dir, CHECKPOINT_FILE));
}

/** RUN/run.json, with an error that names the folder when it is not a run. */
export function readRunConfig(runDir: string): RunConfig {
  const file = path.join(runDir, RUN_CONFIG_FILE);
  if (!existsSync(file))
    throw new Error(
      `${file} is missing: ${runDir} is not a training run folder (alexnet train --out writes one), nor a model folder (it has no card.json).`,
    );
  try {
    return JSON.parse(readFileSync(file, "utf8")) as RunConfig;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); the run's settings are lost: start a new run folder.`);
  }
}

/** Writes RUN/run.json whole or not at all (a reader never sees half of it). */
export function writeRunConfig(runDir: string, config: RunConfig): void {
  writeFileAtomicSync(path.join(runDir, RUN_CONFIG_FILE), JSON.stringify(config, null, 2) + "\n");
}

/** Every epoch RUN/metrics.jsonl holds, in order (none when the file is missing); reads only. */
export function readRunMetrics(runDir: string): EpochMetrics[] {
  const file = path.join(runDir, METRICS_FILE);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l, i) => {
      try {
        return JSON.parse(l) as EpochMetrics;
      } catch (err) {
        throw new Error(
          `${file} line ${i + 1} is not valid JSON (${(err as Error).message}); the line of an epoch cut short: delete that line (the epoch's checkpoint, if any, is still there) and run again.`,
        );
      }
    });
}

export function interruptedDir(runDir: string): string {
  return path.join(runDir, INTERRUPTED_DIR);
}

/** Removes RUN/interrupted: once the epoch it stopped in is finished, epoch-NNNN supersedes it. */
export function clearInterrupted(runDir: string): void {
  rmSync(interruptedDir(runDir), { recursive: true, force: true });
}

export interface RunFolderStart {
  /** The settings the run was started with, when resuming a run folder. */
  saved: RunConfig | undefined;
  /** The newest epoch checkpoint, and the newest mid-epoch one under interrupted/. */
  latest: string | undefined;
  interrupted: string | undefined;
  /** Resuming a run that has a checkpoint to restore (else it starts from its first step). */
  restoring: boolean;
  /**
   * With force and no resume, removes the earlier run's checkpoints, metrics and
   * evaluations: called once the new run's settings are known to be good, so a
   * mistyped option does not cost the old run.
   */
  replace: () => void;
}

/** The entries a run folder is made of; anything else in it is someone else's. */
export const RUN_ENTRIES: readonly string[] = [
  RUN_CONFIG_FILE,
  METRICS_FILE,
  CHECKPOINTS_DIR,
  INTERRUPTED_DIR,
  SUPERSEDED_DIR,
  EVAL_DIR,
  LOCK_FILE,
];

/** One of RUN_ENTRIES, or what a crash can leave of one: a temporary (NAME.tmp-...) or a lock moved aside (run.lock.stale-PID). */
export function isRunEntry(name: string): boolean {
  return RUN_ENTRIES.includes(name) || RUN_ENTRIES.some((e) => name.startsWith(`${e}.tmp-`)) || name.startsWith(`${LOCK_FILE}.stale-`);
}

/**
 * What a run folder holds for a run to start or resume in it. A run writes only
 * into an empty folder or a run folder (else FolderInUseError lists what is
 * there, unless `force`, which writes beside it). A folder with checkpoints is
 * only continued when asked (resume), and only if its settings are there to
 * continue with; `force` without resume replaces that run (its checkpoints,
 * metrics and evaluations are removed by `replace()`, when the caller is ready).
 */
export function openRunFolder(runDir: string, resume: boolean, force = false): RunFolderStart {
  checkOutputFolder(runDir, { kind: "a training run", own: isRunEntry, continuing: true, force });
  const latest = latestCheckpoint(runDir);
  const interrupted = latestCheckpoint(interruptedDir(runDir));
  const any = latest !== undefined || interrupted !== undefined;
  const replacing = !resume && any && force;
  const replace = (): void => {
    if (!replacing) return;
    for (const entry of [CHECKPOINTS_DIR, INTERRUPTED_DIR, SUPERSEDED_DIR, EVAL_DIR, METRICS_FILE])
      rmSync(path.join(runDir, entry), { recursive: true, force: true });
  };
  if (replacing) return { saved: undefined, latest: undefined, interrupted: undefined, restoring: false, replace };
  if (!resume && any) {
    throw new FolderInUseError(
      `train: ${runDir} already holds checkpoints of a run; pass resume (--resume) to continue it, --force to replace it, or choose a new run folder.`,
      runDir,
      readdirSync(runDir).sort(),
    );
  }
  if (resume && any && !isRunFolder(runDir))
    throw new Error(
      `train --resume: ${path.join(runDir, RUN_CONFIG_FILE)} is missing, so the run's settings are unknown; start a new run folder.`,
    );
  return {
    saved: resume && isRunFolder(runDir) ? readRunConfig(runDir) : undefined,
    latest,
    interrupted,
    restoring: resume && any,
    replace,
  };
}

/** The epochs up to `upToEpoch`; later lines (epochs a resume redoes) are removed from the file. */
export function keepRunMetrics(runDir: string, upToEpoch: number): EpochMetrics[] {
  const file = path.join(runDir, METRICS_FILE);
  // A fresh start keeps nothing of an earlier run's file, whatever state it is in.
  if (upToEpoch <= 0) {
    rmSync(file, { force: true });
    return [];
  }
  const all = readRunMetrics(runDir);
  const kept = all.filter((m) => m.epoch <= upToEpoch);
  if (kept.length !== all.length) writeFileAtomicSync(file, kept.map((m) => JSON.stringify(m) + "\n").join(""));
  return kept;
}

export function appendRunMetrics(runDir: string, metrics: EpochMetrics): void {
  appendFileSync(path.join(runDir, METRICS_FILE), JSON.stringify(metrics) + "\n");
}

export interface CheckpointEntry {
  path: string;
  epoch: number;
}

export function checkpointsDir(runDir: string): string {
  return path.join(runDir, CHECKPOINTS_DIR);
}

export function checkpointName(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, "0")}`;
}

/** Complete checkpoints of a run (folders epoch-NNNN holding checkpoint.json), oldest first. */
export function listCheckpoints(runDir: string): CheckpointEntry[] {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return [];
  const found: CheckpointEntry[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const m = EPOCH_DIR.exec(e.name);
    if (m && e.isDirectory() && existsSync(path.join(dir, e.name, CHECKPOINT_FILE)))
      found.push({ path: path.join(dir, e.name), epoch: Number(m[1]) });
  }
  return found.sort((a, b) => a.epoch - b.epoch);
}

/** The newest complete checkpoint of a run, or undefined if there is none. */
export function latestCheckpoint(runDir: string): string | undefined {
  const all = listCheckpoints(runDir);
  return all.length > 0 ? all[all.length - 1].path : undefined;
}

/** The checkpoint best.json names, or undefined if none was tracked (or it is gone). */
export function bestCheckpoint(runDir: string): string | undefined {
  const file = path.join(checkpointsDir(runDir), BEST_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const pointer = JSON.parse(readFileSync(file, "utf8")) as { checkpoint?: unknown };
    if (typeof pointer.checkpoint !== "string" || !EPOCH_DIR.test(pointer.checkpoint)) return undefined;
    const dir = path.join(checkpointsDir(runDir), pointer.checkpoint);
    return existsSync(path.join(dir, CHECKPOINT_FILE)) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The checkpoint a run's evaluation uses: the best by validation top-1 (else the
 * newest), or with "last" the newest. A comparison on the validation split that
 * picked its model by that split's error would favour the protocol it was picked
 * with, so the claims harness evaluates the last epoch.
 */
export function runCheckpoint(runDir: string, which: "best" | "last" = "best"): string {
  const best = (which === "best" ? bestCheckpoint(runDir) : undefined) ?? latestCheckpoint(runDir);
  if (!best)
    throw new Error(
      `${runDir} has no checkpoints (checkpoints/epoch-NNNN); train first with \`alexnet train --out ${runDir}\`, or give a model folder.`,
    );
  return best;
}
