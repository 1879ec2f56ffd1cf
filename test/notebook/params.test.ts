import assert from "node:assert/strict";
import { test } from "node:test";
import { joinSource, parseNotebook } from "../../lib/notebook/nbformat";
import { declaredParameters, injectParameters, parseParam } from "../../lib/notebook/params";
import { notebookJson } from "../helpers/notebooks";

test("parseParam reads JSON scalars and falls back to text", () => {
  assert.deepEqual(parseParam("epochs=3"), ["epochs", 3]);
  assert.deepEqual(parseParam("lr=0.01"), ["lr", 0.01]);
  assert.deepEqual(parseParam("flag=true"), ["flag", true]);
  assert.deepEqual(parseParam("name=laptop"), ["name", "laptop"]);
  assert.deepEqual(parseParam('q="3"'), ["q", "3"]);
  assert.deepEqual(parseParam("expr=a=b"), ["expr", "a=b"]);
  assert.deepEqual(parseParam("list=[1,2]"), ["list", "[1,2]"], "non-scalars stay text");
  assert.throws(() => parseParam("noequals"), /expected name=value/);
  assert.throws(() => parseParam("1x=2"), /not a variable name/);
});

test("declaredParameters finds let/var/const at line starts", () => {
  const d = declaredParameters('let profile = "smoke";\n  let epochs: number = 2;\nconst fixed = 1;\n// let commented\nfoo(let_x)');
  assert.deepEqual(
    [...d.entries()],
    [
      ["profile", "let"],
      ["epochs", "let"],
      ["fixed", "const"],
    ],
  );
});

test("injectParameters adds an assigning cell right after the parameters cell", () => {
  const nb = parseNotebook(notebookJson(["a()", { source: 'let profile = "smoke";\nlet n = 1;', tags: ["parameters"] }, "b()"]));
  const out = injectParameters(nb, { profile: "laptop", n: 5 });
  assert.equal(out.cells.length, 4);
  assert.deepEqual(out.cells[2].metadata.tags, ["injected-parameters"]);
  const src = joinSource(out.cells[2].source);
  assert.match(src, /^profile = "laptop";$/m);
  assert.match(src, /^n = 5;$/m);
  assert.equal(joinSource(out.cells[3].source), "b()");
  assert.equal(nb.cells.length, 3, "the input notebook is not modified");
  assert.equal(injectParameters(nb, {}), nb, "nothing to inject: unchanged");
});

test("injectParameters refuses unknown, const, and parameter-less notebooks", () => {
  const nb = parseNotebook(notebookJson([{ source: "let profile = 's';\nconst k = 1;", tags: ["parameters"] }]));
  assert.throws(() => injectParameters(nb, { epochs: 3 }, "x.ipynb"), /x\.ipynb: parameter 'epochs' is not declared.*declared: profile, k/);
  assert.throws(() => injectParameters(nb, { k: 3 }), /declared with const/);
  assert.throws(
    () => injectParameters(parseNotebook(notebookJson(["1"])), { a: 1 }, "y.ipynb"),
    /y\.ipynb has no cell tagged 'parameters'/,
  );
});
