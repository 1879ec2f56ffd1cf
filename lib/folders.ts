// The folders commands write into. `train --out`, `prepare --out` and
// `import-torch --out` used to write wherever they were pointed, deleting a
// stranger's metrics.jsonl or replacing a model. Now each writes only into an
// empty folder, or one holding its own kind of output that it was asked to
// continue; anything else is refused with what was found, unless --force.

import { existsSync, readdirSync, statSync } from "node:fs";

/** The output folder holds something the command was not asked to replace. */
export class FolderInUseError extends Error {
  override name = "FolderInUseError";
  constructor(
    message: string,
    readonly dir: string,
    /** The entries that stood in the way. */
    readonly found: string[],
  ) {
    super(message);
  }
}

export interface OutputFolderRule {
  /** What the command writes, for messages: "a training run", "a model". */
  kind: string;
  /** The top-level entries the command's output is made of: their names, or a test of a name. */
  own: readonly string[] | ((name: string) => boolean);
  /** The folder's own output is being continued (train --resume, prepare with the same options, the same import again). */
  continuing?: boolean;
  /** Write anyway: replace own output, and write beside anything else (which is never deleted). */
  force?: boolean;
  /** How to continue instead, e.g. "pass --resume to continue it". */
  continueHint?: string;
}

/** Up to eight names, then how many more. */
function listed(names: string[]): string {
  const shown = names.slice(0, 8).join(", ");
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}

/**
 * Checks that `dir` may take the command's output, per the rule; throws
 * FolderInUseError saying what was found and what to do. Returns what the
 * folder held: "empty" (or missing), "own" output, or "foreign" files (with force).
 */
export function checkOutputFolder(dir: string, rule: OutputFolderRule): { holds: "empty" | "own" | "foreign"; found: string[] } {
  if (!existsSync(dir)) return { holds: "empty", found: [] };
  if (!statSync(dir).isDirectory())
    throw new FolderInUseError(`${dir} is a file, not a folder; choose a folder for ${rule.kind}.`, dir, [dir]);
  const entries = readdirSync(dir).sort();
  const isOwn = typeof rule.own === "function" ? rule.own : (e: string) => (rule.own as readonly string[]).includes(e);
  const foreign = entries.filter((e) => !isOwn(e));
  const own = entries.filter(isOwn);
  const holds = foreign.length > 0 ? "foreign" : own.length > 0 ? "own" : "empty";
  if (holds === "empty" || rule.force) return { holds, found: entries };
  if (holds === "foreign") {
    throw new FolderInUseError(
      `${dir} holds files that are not ${rule.kind}'s (${listed(foreign)}); choose an empty folder, or pass --force to write beside them (nothing of theirs is deleted).`,
      dir,
      foreign,
    );
  }
  if (!rule.continuing) {
    const hint = rule.continueHint ? `${rule.continueHint}, ` : "";
    throw new FolderInUseError(
      `${dir} already holds ${rule.kind} (${listed(own)}); ${hint}choose another folder, or pass --force to replace it.`,
      dir,
      own,
    );
  }
  return { holds, found: entries };
}
