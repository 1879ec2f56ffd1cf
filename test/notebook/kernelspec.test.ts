import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { run } from "../../lib/cli/jupyter-kernel";
import { Kernel } from "../../lib/notebook/kernel";
import { KERNEL_NAME, kernelsDir } from "../../lib/notebook/kernelspec";
import { tempDir } from "../helpers/notebooks";

const root = path.resolve(__dirname, "..", "..");

test("kernelsDir: a prefix's share/jupyter/kernels, else JUPYTER_DATA_DIR, else the platform's data folder", () => {
  assert.equal(kernelsDir({ prefix: "/opt/venv" }), "/opt/venv/share/jupyter/kernels");
  assert.equal(kernelsDir({}, { JUPYTER_DATA_DIR: "/d" }, "linux"), "/d/kernels");
  assert.equal(kernelsDir({}, { XDG_DATA_HOME: "/x" }, "linux"), "/x/jupyter/kernels");
  assert.match(kernelsDir({}, {}, "darwin"), /Library\/Jupyter\/kernels$/);
  assert.match(kernelsDir({}, {}, "linux"), /\.local\/share\/jupyter\/kernels$/);
});

test("alexnet jupyter-kernel --prefix: a kernelspec whose command exists and starts a kernel that answers kernel_info", async () => {
  const tmp = tempDir("alexnet-kernelspec-");
  try {
    const log = console.log;
    console.log = () => undefined;
    try {
      assert.equal(await run(["--prefix", tmp.dir]), 0);
    } finally {
      console.log = log;
    }
    await assert.rejects(run(["--user", "--prefix", tmp.dir]), /--user and --prefix .*: give one of them/);
    await assert.rejects(run(["extra"]), /unexpected argument extra/);
    const file = path.join(tmp.dir, "share", "jupyter", "kernels", KERNEL_NAME, "kernel.json");
    const spec = JSON.parse(readFileSync(file, "utf8")) as { argv: string[]; display_name: string; language: string };
    assert.equal(spec.display_name, "TypeScript", "the name the notebooks' metadata shows");
    assert.ok(spec.argv.includes("{connection_file}"));
    // The command and tslab are absolute paths that exist: nothing depends on PATH.
    for (const p of spec.argv.slice(0, 2)) assert.ok(path.isAbsolute(p) && existsSync(p), p);
    const kernel = await Kernel.start({ cwd: path.join(root, "notebooks"), argv: spec.argv });
    try {
      const info = await kernel.info();
      assert.equal((info.language_info as { name: string }).name, "typescript");
      assert.equal(info.implementation, "tslab");
    } finally {
      await kernel.shutdown();
    }
  } finally {
    tmp.cleanup();
  }
});
