// Where a resumed run starts. The newest checkpoint is not always the one to
// trust: its weights can be cut short, changed after they were written, or its
// checkpoint.json garbled (lib/train/checkpoint.ts verifies each against the
// digests it was saved with). A resume starts from the newest checkpoint that
// passes, says which ones it skipped and why, and moves the skipped ones (and
// any newer than the start) to RUN/superseded/, so that a later resume cannot
// pick them up and nothing is deleted. `--resume-from` names the checkpoint.
import { existsSync, mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import { RUN_CONFIG_FILE, SUPERSEDED_DIR, checkpointsDir, interruptedDir, isCheckpointFolder, listCheckpoints } from "../run/run";
import { type CheckpointInfo, newestIntactCheckpoint, verifyCheckpoint } from "./checkpoint";

export interface ResumePoint {
  /** The checkpoint to restore, verified. */
  info: CheckpointInfo;
  /** It is a mid-epoch checkpoint (RUN/interrupted/). */
  midEpoch: boolean;
  /** Newer checkpoints that failed verification, with why. */
  skipped: { path: string; reason: string }[];
  /** Checkpoints to move to RUN/superseded/: the skipped ones and any further on than the start. */
  later: string[];
  /**
   * Moves `later` to RUN/superseded/ and returns where each went. Called once the
   * start is restored: a resume that fails before then leaves the folder as it was.
   */
  supersede: () => { from: string; to: string }[];
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
        `train --resume: no checkpoint of ${runDir} passes its checks:\n${skipped.map((s) => `  ${s.reason}`).join("\n")}\nstart a new run folder (the data and settings are in ${path.join(runDir, RUN_CONFIG_FILE)}).`,
      );
    }
    chosen = { info, midEpoch: useMid };
  }
  const later = laterThan(runDir, chosen.info, [...main, ...mid]).concat(skipped.map((k) => k.path));
  const unique = [...new Set(later)].filter((d) => d !== chosen.info.path);
  return { ...chosen, skipped, later: unique, supersede: () => moveAside(runDir, unique) };
}

/** The checkpoints further on than `start`: epoch checkpoints after its epoch, mid-epoch ones of its epoch or later. */
function laterThan(runDir: string, start: CheckpointInfo, all: string[]): string[] {
  return all.filter((dir) => {
    if (dir === start.path) return false;
    const mid = checkpointOfRun(runDir, dir)?.midEpoch === true;
    const epoch = Number(/epoch-(\d+)$/.exec(dir)?.[1]);
    return mid ? epoch >= start.epoch : epoch > start.epoch;
  });
}

/** Moves each checkpoint folder to RUN/superseded/ (mid-epoch ones as interrupted-epoch-NNNN), never over another. */
function moveAside(runDir: string, dirs: string[]): { from: string; to: string }[] {
  const moved: { from: string; to: string }[] = [];
  const target = path.join(runDir, SUPERSEDED_DIR);
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const name = `${checkpointOfRun(runDir, dir)?.midEpoch ? "interrupted-" : ""}${path.basename(dir)}`;
    mkdirSync(target, { recursive: true });
    let to = path.join(target, name);
    for (let n = 2; existsSync(to); n++) to = path.join(target, `${name}-${n}`);
    renameSync(dir, to);
    moved.push({ from: dir, to });
  }
  return moved;
}
