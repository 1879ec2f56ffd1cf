// Runner start-up overhead: wall seconds for `runNotebook` on a notebook with
// one empty-ish cell (kernel start, TypeScript warm-up, one round trip, shutdown).
// Usage: npm run bench -- bench/runner-startup.ts [runs]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runNotebook } from "../lib/notebook/runner";
import { median, writeResult } from "./common";

async function main() {
  const runs = Number(process.argv[2] ?? 5);
  const dir = mkdtempSync(path.join(os.tmpdir(), "alexnet-bench-"));
  try {
    const cell = (id: string, source: string) => ({ cell_type: "code", id, metadata: {}, source, outputs: [], execution_count: null });
    const empty = path.join(dir, "empty.ipynb");
    writeFileSync(empty, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [cell("a", "1")] }));
    const ten = path.join(dir, "ten-cells.ipynb");
    writeFileSync(
      ten,
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells: Array.from({ length: 10 }, (_, i) => cell(`c${i}`, `const v${i} = ${i};`)),
      }),
    );
    const measure = async (file: string) => {
      const secs: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const r = await runNotebook(file, { out: path.join(dir, "out") });
        if (r.status !== "ok") throw new Error(`${file}: ${JSON.stringify(r.failures)}`);
        secs.push((performance.now() - t0) / 1000);
      }
      return secs;
    };
    const emptySecs = await measure(empty);
    const tenSecs = await measure(ten);
    const perCell = (median(tenSecs) - median(emptySecs)) / 9;
    console.log(
      `empty notebook (1 trivial cell): median ${median(emptySecs).toFixed(2)} s over ${runs} runs [${emptySecs.map((s) => s.toFixed(2)).join(", ")}]`,
    );
    console.log(`10 trivial cells: median ${median(tenSecs).toFixed(2)} s; about ${(perCell * 1000).toFixed(0)} ms per additional cell`);
    const file = writeResult("runner-startup", {
      runs,
      emptyNotebookSeconds: { median: median(emptySecs), all: emptySecs },
      tenCellNotebookSeconds: { median: median(tenSecs), all: tenSecs },
      perAdditionalCellMs: perCell * 1000,
    });
    console.log(`wrote ${file}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
