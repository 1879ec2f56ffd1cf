#!/usr/bin/env node
// The `alexnet` command. Runs the TypeScript sources directly through ts-node
// (type checking is `npm run typecheck`), so lib/ edits take effect at once.
"use strict";
const path = require("node:path");
require("ts-node").register({ project: path.join(__dirname, "..", "tsconfig.json"), transpileOnly: true });
require("../lib/cli/main").main(process.argv.slice(2));
