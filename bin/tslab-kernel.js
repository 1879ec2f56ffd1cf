#!/usr/bin/env node
// A tslab kernel for the headless runner (lib/notebook/kernel.ts). It differs
// from `tslab kernel` in one way: it exits when its parent goes away (its
// stdin pipe closes), so a runner that is killed outright leaves no kernel behind.
"use strict";
const configPath = process.argv[2];
if (!configPath) {
  console.error("usage: tslab-kernel.js CONNECTION_FILE");
  process.exit(2);
}
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
require("tslab/dist/main").startKernel({ configPath, enableFindLocal: false });
