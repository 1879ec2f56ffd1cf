// The committed measurement of a notebook's claims (bench/results/claims-*.json,
// written by `alexnet reproduce --results NAME`), shown as a table with one
// computed sentence per figure, so a notebook's prose never retypes a verdict.
import type { ClaimsReport } from "../claims/reading";
import { CLAIMS_COLUMNS, OVERFITTING_NOTE, claimSentences, claimsRows } from "../claims/table";
import { committedResult, provenance } from "../eval/results";
import { showTable } from "./display";

/** Every committed claims result, in this order: the embedded set, then Fashion-MNIST. */
export const CLAIMS_RESULTS = ["claims-embedded", "claims-fashion-mnist"] as const;

/** Shows the committed table for these claims from each result that has them; says how to make one when none does. Returns how many tables it showed. */
export function showCommittedClaims(ids: readonly string[], results: readonly string[] = CLAIMS_RESULTS, root?: string): number {
  let shown = 0;
  for (const name of results) {
    const r = committedResult<ClaimsReport>(name, root);
    if (!r) continue;
    const rows = claimsRows(r.result, ids);
    if (rows.length === 0) continue;
    const d = r.result.data;
    showTable(
      [...CLAIMS_COLUMNS],
      rows,
      `${name}: ${r.result.profile} profile, ${r.result.seeds.length} seeds, ${d.train} training and ${d.val} validation images (${d.dir}); ${provenance(r)}`,
    );
    for (const sentence of claimSentences(r.result, ids)) console.log(sentence);
    if (rows.some((row) => row[1] === "overfittingGap")) console.log(OVERFITTING_NOTE);
    shown++;
  }
  // Every claim at once makes the committed file (a subset with --results updates only a file measured the same way).
  if (shown === 0)
    console.log(
      `No committed measurement of ${ids.join(", ")} yet (bench/results/claims-*.json); \`npx alexnet reproduce --profile laptop --seeds 3 --results embedded\` measures every claim (\`npx alexnet reproduce ${ids.join(" ")} --profile laptop\` these alone, into runs/).`,
    );
  return shown;
}
