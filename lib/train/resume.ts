// Where a resumed run starts. The newest checkpoint is not always the one to
// trust: its weights can be cut short, changed after they were written, or its
// checkpoint.json garbled (lib/train/checkpoint.ts verifies each against the
// digests it was saved with). A resume starts from the newest checkpoint that
// passes, says which ones it skipped and why, and moves the skipped ones (and
// any newer than the start) to RUN/superseded/, so that a later resume cannot
// pick them up and nothing is deleted. `--resume-from` names the checkpoint.
import { existsSync, mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import { SUPERSEDED_DIR, checkpointsDir, interruptedDir, isCheckpointFolder, listCheckpoints } from "../run/run";
import { type CheckpointInfo, newestIntactCheckpoint, verifyCheckpoint } from "./checkpoint";

export interface ResumePoint {
  /** The checkpoint to restore, verified. */
  info: CheckpointInfo;
  /** It is a mid-epoch checkpoint (RUN/interrupted/). */
  midEpoch: boolean;
  /** Newer checkpoints that failed verification, with why. */
  skipped: { path: string; reason: string }[];
  /** Checkpoints moved to RUN/superseded/ because they are newer than the start (the skipped ones included). */
  superseded: { from: string; to: string }[];
}

/** A checkpoint folder of this run: RUN/checkpoints/epoch-NNNN or RUN/interrupted/checkpoints/epoch-NNNN. */
function checkpointOfRun(runDir: string, dir: string): { midEpoch: boolean } | undefined {
  const parent = path.dirname(path.resolve(dir));
  if (parent === checkpointsDir(runDir)) return { midEpoch: false };
  if (parent === checkpointsDir(interruptedDir(runDir))) return { midEpoch: true };
  return undefined;
}

/**
 * The checkpoint a resume starts from: `from` when given (verified; an error
 * names the file at fault), else the newest intact one, the mid-epoch one when
 * it is further on. Undefined when the run has no checkpoint at all; an error
 * when it has some and none passes.
 */
export async function chooseResumePoint(runDir: string, from?: string): Promise<ResumePoint | undefined> {
  const main = listCheckpoints(runDir).map((c) => c.path);
  const mid = listCheckpoints(interruptedDir(runDir)).map((c) => c.path);
  let chosen: { info: CheckpointInfo; midEpoch: boolean };
  const skipped: ResumePoint["skipped"] = [];
  if (from !== undefined) {
    const where = checkpointOfRun(runDir, from);
    if (!where || !isCheckpointFolder(from)) {
      throw new Error(
        `train --resume-from: ${path.resolve(from)} is not a checkpoint of ${runDir}; pick one of ${[...main, ...mid].map((c) => path.relative(runDir, c)).join(", ") || "(there are none)"}.`,
      );
    }
    chosen = { info: await verifyCheckpoint(path.resolve(from)), midEpoch: where.midEpoch };
  } else {
    if (main.length === 0 && mid.length === 0) return undefined;
    const a = await newestIntactCheckpoint(main);
    const b = await newestIntactCheckpoint(mid);
    skipped.push(...a.skipped, ...b.skipped);
    const useMid = b.checkpoint !== undefined && (a.checkpoint === undefined || b.checkpoint.step > a.checkpoint.step);
    const info = useMid ? b.checkpoint : a.checkpoint;
    if (!info) {
      throw new Error(
        `train --resume: no checkpoint of ${runDir} passes its checks:\n${skipped.map((s) => `  ${s.reason}`).join("\n")}\nstart a new run folder (the data and settings are in ${path.join(runDir, "run.json")}).`,
      );
    }
    chosen = { info, midEpoch: useMid };
  }
  return { ...chosen, skipped, superseded: supersedeLater(runDir, chosen.info, [...main, ...mid]) };
}

/** Moves every checkpoint further on than `start` to RUN/superseded/, so that the run goes on from `start` alone. */
function supersedeLater(runDir: string, start: CheckpointInfo, all: string[]): { from: string; to: string }[] {
  const moved: { from: string; to: string }[] = [];
  for (const dir of all) {
    if (dir === start.path) continue;
    const mid = checkpointOfRun(runDir, dir)?.midEpoch === true;
    const epoch = Number(/epoch-(\d+)$/.exec(dir)?.[1]);
    // An epoch checkpoint after the start's epoch, or a mid-epoch one of the start's epoch or later.
    if (!(mid ? epoch >= start.epoch && dir !== start.path : epoch > start.epoch)) continue;
    const target = path.join(runDir, SUPERSEDED_DIR);
    mkdirSync(target, { recursive: true });
    let to = path.join(target, `${mid ? "interrupted-" : ""}${path.basename(dir)}`);
    for (let n = 2; existsSync(to); n++) to = path.join(target, `${mid ? "interrupted-" : ""}${path.basename(dir)}-${n}`);
    renameSync(dir, to);
    moved.push({ from: dir, to });
  }
  return moved;
}
