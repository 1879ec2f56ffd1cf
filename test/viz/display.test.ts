import assert from "node:assert/strict";
import { test } from "node:test";
import { LiveDisplay, escapeHtml, htmlTable, inKernel, textTable } from "../../lib/viz/display";

test("textTable aligns columns and right-aligns numbers", () => {
  assert.equal(
    textTable(
      ["name", "n"],
      [
        ["a", 1],
        ["bbb", 100],
      ],
    ),
    ["name    n", "----  ---", "a       1", "bbb   100"].join("\n"),
  );
});

test("htmlTable escapes cell text", () => {
  const html = htmlTable(["x"], [["<b>&"]], "cap");
  assert.match(html, /<caption>cap<\/caption>/);
  assert.match(html, /&lt;b&gt;&amp;/);
  assert.equal(escapeHtml('"'), "&quot;");
});

test("outside a kernel, displays print their text/plain part", () => {
  assert.equal(inKernel(), false);
  const printed: string[] = [];
  const d = new LiveDisplay((t) => printed.push(t));
  d.update({ "text/html": "<i>1</i>", "text/plain": "one" });
  d.update({ "text/plain": "two" });
  assert.deepEqual(printed, ["one", "two"]);
});
