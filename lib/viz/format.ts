// Numbers as people read them in lines, tables and notebook prose. One home, so
// that a rate reads the same ("12.3%") in the CLI, the trainer's epoch lines,
// the eval summary and the notebooks.

/** A rate as a percentage ("12.3%"); "-" for a missing or non-finite value (an epoch not run, a metric not measured). */
export function pct(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? "-" : `${(100 * x).toFixed(digits)}%`;
}

/** A rate in percentage points without the sign ("12.3"), for table columns whose header says %; "-" when missing. */
export function points(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? "-" : (100 * x).toFixed(digits);
}

/** A difference of rates in signed points ("+1.2", "-0.4"); "-" when missing. */
export function signedPoints(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? "-" : `${x >= 0 ? "+" : ""}${(100 * x).toFixed(digits)}`;
}
