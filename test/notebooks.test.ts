// The course itself, in the smoke profile: every notebook must run clean.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { runNotebook } from "../lib/notebook/runner";
import { tempDir } from "./helpers/notebooks";

const dir = path.resolve(__dirname, "..", "notebooks");
const out = tempDir("alexnet-course-");
after(out.cleanup);

for (const name of readdirSync(dir)
  .filter((f) => f.endsWith(".ipynb"))
  .sort()) {
  test(`notebook ${name} runs clean in the smoke profile`, async () => {
    const r = await runNotebook(path.join(dir, name), { out: out.dir, params: { profile: "smoke" }, timeout: 300 });
    assert.equal(r.status, "ok", r.failures.map((f) => `cell ${f.cell} (id ${f.id}): ${f.message}`).join("\n"));
    assert.equal(r.cellsRun, r.codeCells, "every code cell ran, the injected parameters cell included");
  });
}
