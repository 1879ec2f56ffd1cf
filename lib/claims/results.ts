// The committed claims results (bench/results/claims-NAME.json and .md), as
// `alexnet reproduce --results NAME` writes them. A run of every claim replaces
// the file. A run of some claims updates theirs in place, and only when the file
// was measured the same way (profile, data, budget, seeds, harness): re-measuring
// one claim must not drop the other nine, nor mix two setups in one table. The
// file keeps its first date and machine and lists each update with its own, so a
// caption can say which claims were measured when (provenance in results.ts).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../data/embedded";
import { writeFileAtomicSync } from "../files";
import { machineInfo, writeResult } from "../eval/results";
import type { ClaimsReport } from "./reading";
import { claimsTable } from "./table";

export interface ClaimsEngine {
  engine: string;
  backend: string;
  details?: unknown;
}

/** One re-measurement of some claims in a committed file. */
export interface ClaimsUpdate {
  date: string;
  machine: Record<string, unknown>;
  engine: ClaimsEngine;
  claims: string[];
}

export type CommittedClaims = ClaimsReport & { engine: ClaimsEngine; updates?: ClaimsUpdate[] };

// What must match for claims of two runs to stand in one table.
const SETUP = (r: ClaimsReport) =>
  JSON.stringify({
    profile: r.profile,
    data: { dir: r.data.dir, source: r.data.source, train: r.data.train, val: r.data.val },
    budget: r.budget,
    seeds: r.seeds,
    harness: r.harness,
  });

/**
 * Writes claims-NAME.json and .md (in `dir`: default bench/results/, or
 * $BENCH_OUT, as writeResult) from a completed report whose data.dir is
 * relative to the project. `partial`: the report holds only some claims, which
 * replace theirs in the existing file (or start one when there is none).
 * Returns the JSON file's path.
 */
export function writeClaimsResult(
  name: string,
  report: ClaimsReport,
  engine: ClaimsEngine,
  heading: (r: ClaimsReport) => string,
  options: { partial: boolean; dir?: string },
): string {
  const resultName = `claims-${name}`;
  const dir = options.dir ?? process.env.BENCH_OUT ?? path.join(projectRoot(), "bench", "results");
  let file = path.join(dir, `${resultName}.json`);
  let written: ClaimsReport;
  if (!options.partial || !existsSync(file)) {
    file = writeResult(resultName, { engine, ...report }, dir);
    written = report;
  } else {
    const old = JSON.parse(readFileSync(file, "utf8")) as CommittedClaims & { benchmark?: string };
    if (old.benchmark !== resultName || SETUP(old) !== SETUP(report)) {
      throw new Error(
        `${file} was measured with another setup (${SETUP(old)}), not this run's (${SETUP(report)}); its claims cannot share a table with these. Run every claim (leave CLAIM out) to replace the file, or pass another --results NAME.`,
      );
    }
    const fresh = new Map(report.claims.map((c) => [c.id, c]));
    const ids = new Set(old.claims.map((c) => c.id));
    const claims = [...old.claims.map((c) => fresh.get(c.id) ?? c), ...report.claims.filter((c) => !ids.has(c.id))];
    const update: ClaimsUpdate = { date: new Date().toISOString(), machine: machineInfo(), engine, claims: report.claims.map((c) => c.id) };
    // The first measurement's date, machine and engine stay at the top; this one is listed under updates.
    const merged: CommittedClaims = { ...old, claims, updates: [...(old.updates ?? []), update] };
    writeFileAtomicSync(file, `${JSON.stringify(merged, null, 2)}\n`);
    written = merged;
  }
  writeFileAtomicSync(file.replace(/\.json$/, ".md"), `${heading(written)}\n\n${claimsTable(written)}\n`);
  return file;
}
