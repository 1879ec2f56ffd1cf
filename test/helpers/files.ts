// Write failures on demand, for tests of what a full disk or a permission error leaves behind.

/** Makes the next writes fail as a full disk (or another errno) would, until restored. */
export function failWrites(code: string): () => void {
  const fs = require("node:fs") as typeof import("node:fs");
  const promises = require("node:fs/promises") as typeof import("node:fs/promises");
  const { writeSync } = fs;
  const { open } = promises;
  const fail = () => Object.assign(new Error(`${code}: simulated, write`), { code });
  fs.writeSync = (() => {
    throw fail();
  }) as typeof fs.writeSync;
  promises.open = (async (...args: Parameters<typeof open>) => {
    const fh = await open(...args);
    const failing = async () => {
      throw fail();
    };
    return Object.assign(Object.create(fh), { writeFile: failing, write: failing, close: () => fh.close(), sync: () => fh.sync() });
  }) as typeof open;
  return () => {
    fs.writeSync = writeSync;
    promises.open = open;
  };
}
