// Where a split's records are, and the shard files kept open to read them. Both
// readers of a prepared dataset use these: the Dataset's SplitReader (shards.ts,
// asynchronous reads in the main thread) and RecordFiles (batches.ts, synchronous
// reads on a loader worker), so record i is found the same way by both, and
// both bound their open files the same way.

import { REDO_HINT } from "./shard-format";

/** A shard whose bytes are not what was prepared (found by a label no class has, or by verify). */
export class DamagedShardError extends Error {
  override name = "DamagedShardError";
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
  }
}

/**
 * A record's stored label, checked against the class count. Bytes flipped in a
 * shard otherwise train and evaluate on a label such as -6 and exit 0; a label
 * outside 0..classes-1 is the one damage a reader can see for itself.
 */
export function checkedLabel(label: number, classes: number, file: string, record: number): number {
  if (Number.isInteger(label) && label >= 0 && label < classes) return label;
  throw new DamagedShardError(
    `${file}: record ${record} has label ${label}, but the dataset has ${classes} classes (0..${classes - 1}), so the shard is damaged; \`alexnet verify DATA_DIR\` lists every damaged shard; ${REDO_HINT}.`,
    file,
  );
}

/**
 * Record index -> (shard, record within it), for a split whose shards hold their
 * records one after another: record i is found by walking the shards in order.
 */
export class ShardIndex {
  /** Records in the split. */
  readonly length: number;
  private readonly starts: number[] = [];

  constructor(
    shards: readonly { records: number }[],
    /** How errors name the split ("split train of data/x"). */
    private readonly where = "the split",
  ) {
    let n = 0;
    for (const s of shards) {
      this.starts.push(n);
      n += s.records;
    }
    this.length = n;
  }

  /** Index in the split of shard k's first record. */
  start(shard: number): number {
    return this.starts[shard];
  }

  /** [shard, record within shard] of record i; a RangeError naming the split when i is not one of its records. */
  locate(i: number): [number, number] {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`record ${i} is outside ${this.where}, which has ${this.length} records (0..${this.length - 1}).`);
    // Binary search for the last shard starting at or before i; empty shards share
    // their start with the next one, and the last of those is the one that holds i.
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return [lo, i - this.starts[lo]];
  }
}

/** A handle taken from OpenFiles; give it back with release() once the reads that use it end. */
export interface FileLease<H> {
  readonly handle: H;
  /** Closes the file if it was evicted meanwhile and no one else uses it; returns what closing returned. */
  release(): unknown;
  /** Forgets the handle (it failed to open, say), so that the next acquire opens the file again; it is not closed. */
  discard(): void;
}

interface OpenEntry<H> {
  handle: H;
  users: number;
  evicted: boolean;
}

/**
 * Open files, at most `limit` at a time, the least recently used closed first; a file
 * in use is closed only once its last lease is released. H is what `open` gives: a
 * file descriptor for synchronous reads, a Promise<FileHandle> for asynchronous ones.
 * Opening many shards at once would run into the process's limit on open files;
 * reopening a shard for every record would cost a system call per record.
 */
export class OpenFiles<H> {
  private readonly open = new Map<string, OpenEntry<H>>();

  constructor(
    private readonly limit: number,
    private readonly opener: (file: string) => H,
    private readonly closer: (handle: H) => unknown,
  ) {}

  /** Files open now (evicted files still in use are not counted). */
  get size(): number {
    return this.open.size;
  }

  /** The file's handle, opened if need be (an error from `open` propagates, and nothing is kept). */
  acquire(file: string): FileLease<H> {
    let entry = this.open.get(file);
    if (entry) {
      this.open.delete(file);
      this.open.set(file, entry); // most recently used last
    } else {
      entry = { handle: this.opener(file), users: 0, evicted: false };
      this.open.set(file, entry);
      this.evict();
    }
    const e = entry;
    e.users++;
    let released = false;
    return {
      handle: e.handle,
      release: () => {
        if (released) return undefined;
        released = true;
        e.users--;
        return e.evicted && e.users === 0 ? this.closer(e.handle) : undefined;
      },
      discard: () => {
        if (this.open.get(file) === e) this.open.delete(file);
      },
    };
  }

  private evict(): void {
    for (const [file, entry] of this.open) {
      if (this.open.size <= this.limit) break;
      this.open.delete(file);
      entry.evicted = true;
      if (entry.users === 0) this.closer(entry.handle);
    }
  }

  /** Closes every file, in use or not; returns what each close returned (await them for asynchronous handles). */
  closeAll(): unknown[] {
    const entries = [...this.open.values()];
    this.open.clear();
    return entries.map((e) => this.closer(e.handle));
  }
}
