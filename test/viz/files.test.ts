import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { figureFormat, writeFigure } from "../../lib/viz/files";

test("writeFigure creates missing folders and writes bytes or text", () => {
  const dir = mkdtempSync(join(tmpdir(), "files-test-"));
  try {
    const png = writeFigure(join(dir, "a", "b", "x.png"), Buffer.from([137, 80, 78, 71]));
    assert.equal(png, join(dir, "a", "b", "x.png"));
    assert.deepEqual([...readFileSync(png)], [137, 80, 78, 71]);
    assert.equal(readFileSync(writeFigure(join(dir, "a", "y.svg"), "<svg/>"), "utf8"), "<svg/>");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("figureFormat is the lower-case extension", () => {
  assert.deepEqual([figureFormat("runs/Fig.PNG"), figureFormat("a.b/page.html"), figureFormat("noext")], ["png", "html", ""]);
});
