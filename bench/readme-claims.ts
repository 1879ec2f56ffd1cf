// Regenerates the README's claims tables from the committed results, so the
// README never retypes a figure: every block between
//   <!-- claims-NAME: generated from bench/results/claims-NAME.json -->
//   <!-- end of claims-NAME -->
// is replaced by claimsTable(that file). test/readme-results.test.ts checks it.
//   npm run bench -- bench/readme-claims.ts
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ClaimsReport } from "../lib/claims/reading";
import { claimsTable } from "../lib/claims/table";
import { projectRoot } from "../lib/data/embedded";
import { committedResult } from "../lib/eval/results";
import { CLAIMS_RESULTS } from "../lib/viz/claims";

const file = path.join(projectRoot(), "README.md");
let readme = readFileSync(file, "utf8");
for (const name of CLAIMS_RESULTS) {
  const start = `<!-- ${name}: generated from bench/results/${name}.json -->`;
  const end = `<!-- end of ${name} -->`;
  const r = committedResult<ClaimsReport>(name);
  const i = readme.indexOf(start);
  if (!r || i < 0) {
    console.log(
      `${name}: ${r ? `no "${start}" in the README; add it and "${end}" where the table goes` : "no committed result"}; left alone`,
    );
    continue;
  }
  const j = readme.indexOf(end, i);
  if (j < 0) throw new Error(`README.md: "${start}" has no "${end}" after it.`);
  readme = `${readme.slice(0, i + start.length)}\n${claimsTable(r.result)}\n${readme.slice(j)}`;
  console.log(`${name}: table regenerated from bench/results/${name}.json (${r.date})`);
}
writeFileSync(file, readme);
