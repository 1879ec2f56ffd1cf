// Builds small notebooks for runner tests.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export type CellSpec = string | { source: string; tags?: string[]; markdown?: boolean };

export function notebookJson(cells: CellSpec[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((spec, i) => {
      const c = typeof spec === "string" ? { source: spec } : spec;
      if (c.markdown) return { cell_type: "markdown", id: `md${i}`, metadata: {}, source: c.source };
      return {
        cell_type: "code",
        id: `cell${i}`,
        metadata: c.tags ? { tags: c.tags } : {},
        source: c.source,
        outputs: [],
        execution_count: null,
      };
    }),
  });
}

export function tempDir(prefix = "alexnet-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeNotebookFile(dir: string, name: string, cells: CellSpec[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, notebookJson(cells));
  return file;
}

/** True while a process with this pid exists. */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True while any process of this process group exists. */
export function groupAlive(pgid: number | undefined): boolean {
  if (pgid === undefined || pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}
