// The notebooks' prose quotes committed results as the README does (test/helpers/quotes.ts),
// and a notebook that shows the committed claims table says, in words, what each of its
// figures' verdicts is, quoting it from the file: so a rerun that changes a verdict fails
// here until the prose that interprets it is read again.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import type { ClaimsReport } from "../lib/claims/reading";
import { committedResult } from "../lib/eval/results";
import { CLAIMS_RESULTS } from "../lib/viz/claims";
import { QUOTE, checkQuote } from "./helpers/quotes";

const root = path.resolve(__dirname, "..");
const notebooks = readdirSync(path.join(root, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();
const cells = (f: string) =>
  (JSON.parse(readFileSync(path.join(root, "notebooks", f), "utf8")).cells as { cell_type: string; source: string[] | string }[]).map(
    (c) => ({ type: c.cell_type, text: Array.isArray(c.source) ? c.source.join("") : c.source }),
  );

test("every committed result a notebook's prose quotes is the committed one", () => {
  for (const f of notebooks) {
    for (const c of cells(f).filter((x) => x.type === "markdown")) {
      for (const [text, shown, name, key] of c.text.matchAll(QUOTE)) checkQuote(text, shown, name, key, root, f);
    }
  }
});

test("a notebook that shows committed claims quotes the reading of each of their figures", () => {
  let checked = 0;
  for (const f of notebooks) {
    const all = cells(f);
    const prose = all
      .filter((c) => c.type === "markdown")
      .map((c) => c.text)
      .join("\n");
    for (const c of all.filter((x) => x.type === "code")) {
      const m = /showCommittedClaims\(\[([^\]]*)\]/.exec(c.text);
      if (!m) continue;
      const ids = [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]);
      for (const name of CLAIMS_RESULTS) {
        const r = committedResult<ClaimsReport>(name, root);
        if (!r) continue;
        r.result.claims.forEach((claim, ci) => {
          if (!ids.includes(claim.id)) return;
          claim.figures.forEach((fig, fi) => {
            const key = `claims[${ci}].figures[${fi}].reading`;
            assert.ok(
              prose.includes(`(\`${name}.json\`: ${key})`),
              `${f} shows ${claim.id}'s ${fig.metric} from ${name}.json but its prose does not say what it reads: quote **${fig.reading}** (\`${name}.json\`: ${key}) where the prose interprets it`,
            );
            checked++;
          });
        });
      }
    }
  }
  assert.ok(checked > 0, "no notebook shows a committed claim");
});
