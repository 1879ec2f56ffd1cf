// One process at a time in a run folder. Two trainers writing one RUN would
// interleave their metrics.jsonl lines and overwrite each other's checkpoints
// while both exit 0, so a trainer holds RUN/run.lock for as long as it runs.
//
// The lock is written whole to a temporary file and hard-linked into place, which
// fails if a lock exists (one creator wins, and no reader ever sees half a lock);
// it holds the owner's pid, host and start time. It is removed when the owner releases it or exits; a
// process killed outright (kill -9, a power cut) leaves it behind, so a lock
// whose pid no longer runs on this host is stale and is taken over, with a
// message saying so. A lock from another host cannot be checked and is refused.
import { randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { FolderInUseError } from "../folders";
import { LOCK_FILE } from "./run";

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** What holds it, e.g. "alexnet train". */
  command: string;
}

/** The run folder is held by another live process (or one on another host). */
export class RunLockedError extends Error {
  override name = "RunLockedError";
  constructor(
    message: string,
    readonly lockFile: string,
    readonly owner: LockOwner | undefined,
  ) {
    super(message);
  }
}

export interface RunLock {
  file: string;
  owner: LockOwner;
  /** The stale lock this one replaced: its owner had died without removing it. */
  tookOver?: LockOwner;
  /** Removes the lock if it is still this process's; safe to call twice. */
  release(): void;
}

/** True when a process with this pid exists on this machine. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by another user
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(file, "utf8")) as LockOwner;
    return Number.isInteger(o.pid) && typeof o.host === "string" ? o : undefined;
  } catch {
    return undefined; // vanished, or cut short by a crash while it was written
  }
}

function describeOwner(o: LockOwner): string {
  return `process ${o.pid} on ${o.host} (${o.command}, since ${o.started})`;
}

// When this process started: a lock with our own pid but an earlier start was left by a process that
// died and whose pid came back to us (a restarted container often runs its command as pid 1 again).
const PROCESS_STARTED = Date.now() - process.uptime() * 1000;

/** A lock that nobody holds any more: its process is gone from this host, or the file is unreadable (never written whole). */
function isStale(owner: LockOwner | undefined): boolean {
  if (owner === undefined) return true;
  if (owner.host !== os.hostname()) return false;
  if (owner.pid === process.pid) return Date.parse(owner.started) < PROCESS_STARTED - 1000;
  return !running(owner.pid);
}

/** Creates `file` holding `text` only if it does not exist; false when it does. */
function createExclusive(file: string, text: string): boolean {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, text);
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    // A file system without hard links: O_EXCL still makes one creator win.
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw err;
    try {
      writeFileSync(file, text, { flag: "wx" });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Takes RUN/run.lock for this process, creating RUN if needed. Throws
 * RunLockedError naming the holder when another live process has it; takes a
 * stale lock over (RunLock.tookOver says whose it was).
 */
export function acquireRunLock(runDir: string, command = "alexnet train"): RunLock {
  if (existsSync(runDir) && !statSync(runDir).isDirectory())
    throw new FolderInUseError(`${runDir} is a file, not a folder; choose a folder for the run.`, runDir, [runDir]);
  mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, LOCK_FILE);
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command };
  let tookOver: LockOwner | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(file, `${JSON.stringify(owner)}\n`)) return lockHeld(file, owner, tookOver);
    const holder = readOwner(file);
    if (!isStale(holder)) {
      const who = holder ? describeOwner(holder) : "another process";
      const remedy =
        holder && holder.host !== os.hostname()
          ? `if nothing on ${holder.host} is training it any more, remove ${file}`
          : `wait for it to finish or stop it (Ctrl-C saves where it stopped, then --resume continues)`;
      throw new RunLockedError(`${runDir} is in use by ${who}; ${remedy}.`, file, holder);
    }
    // Moved aside rather than deleted: if another process took it over between our read and now, we moved
    // a live lock, which the check below notices and puts back (unless a third process has made one since).
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch {
      continue; // gone already: try to create it again
    }
    const moved = readOwner(aside);
    if (moved && holder && (moved.pid !== holder.pid || moved.started !== holder.started)) {
      createExclusive(file, readFileSync(aside, "utf8"));
      rmSync(aside, { force: true });
      continue;
    }
    rmSync(aside, { force: true });
    tookOver = holder ?? { pid: 0, host: "unknown", started: "unknown", command: "an unreadable lock" };
  }
  throw new RunLockedError(`${runDir}: could not take ${file} after three tries; another process keeps taking it.`, file, readOwner(file));
}

function lockHeld(file: string, owner: LockOwner, tookOver: LockOwner | undefined): RunLock {
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off("exit", release);
    const now = readOwner(file);
    if (now && now.pid === owner.pid && now.started === owner.started && existsSync(file)) rmSync(file, { force: true });
  };
  // A process that exits without releasing (an uncaught error, process.exit on a second Ctrl-C) still lets go.
  process.on("exit", release);
  return { file, owner, tookOver, release };
}

/** Who holds RUN/run.lock, if anyone (a stale lock included). */
export function runLockOwner(runDir: string): LockOwner | undefined {
  return readOwner(path.join(runDir, LOCK_FILE));
}
