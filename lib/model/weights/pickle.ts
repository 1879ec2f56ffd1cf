// A restricted reader of Python pickles (protocols 2 to 5, the binary opcodes
// torch.save emits). Python's own unpickler calls whatever callable a pickle
// names: a checkpoint can run `os.system` the moment it is loaded. This one
// executes nothing from the file. A pickle may name only the globals the
// caller allows, each mapped to a plain JavaScript function; any other name is
// refused at the GLOBAL / STACK_GLOBAL opcode itself, before its arguments are
// even read.
//
// Python values become: None null, bool boolean, int number (bigint beyond
// 2^53), float number, str string, bytes Uint8Array, list array, tuple frozen
// array, dict Map (insertion order kept), allowed objects whatever their handler
// returns.

/** What a pickle may name: a handler per "module.name". */
export interface GlobalHandler {
  /** REDUCE / NEWOBJ: the object made from these arguments. */
  call(args: readonly unknown[]): unknown;
  /** BUILD on an object this handler made (Python's __setstate__). Without it, BUILD is refused. */
  build?(obj: unknown, state: unknown): unknown;
}

export interface UnpickleOptions {
  /** Allowed globals by "module.name"; every other global is refused. */
  globals: Readonly<Record<string, GlobalHandler>>;
  /** BINPERSID: what a persistent id stands for (torch: a storage). Without it, BINPERSID is refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Named in errors: the file (and entry) the bytes came from. */
  source?: string;
  /** Appended to the message when a global is refused: what the caller wants instead. */
  refusalHint?: string;
  /** Byte to start at; files may hold several pickles back to back. */
  offset?: number;
}

export class PickleError extends Error {
  override name = "PickleError";
  constructor(
    message: string,
    /** Byte offset of the opcode at fault. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** The bytes end before the pickle's STOP: a reader may fetch more and try again. */
export class PickleTruncatedError extends PickleError {
  override name = "PickleTruncatedError";
}

/** A global outside the allow-list: the pickle would have run code. */
export class RefusedGlobalError extends PickleError {
  override name = "RefusedGlobalError";
  constructor(
    message: string,
    offset: number,
    /** "module.name" as the pickle spells it, e.g. "posix.system". */
    readonly callable: string,
  ) {
    super(message, offset);
  }
}

/** A global the pickle named, resolved to its handler; what persistentLoad sees of e.g. torch.FloatStorage. */
export class PickleGlobal {
  constructor(
    readonly qualifiedName: string,
    readonly handler: GlobalHandler,
  ) {}
}

const MARK = Symbol("mark");

const OPCODE_NAMES: Record<number, string> = {
  0x80: "PROTO", 0x95: "FRAME", 0x2e: "STOP", 0x28: "MARK", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP",
  0x7d: "EMPTY_DICT", 0x5d: "EMPTY_LIST", 0x29: "EMPTY_TUPLE", 0x74: "TUPLE", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
  0x6c: "LIST", 0x64: "DICT", 0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x94: "MEMOIZE", 0x68: "BINGET", 0x6a: "LONG_BINGET",
  0x58: "BINUNICODE", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8e: "BINBYTES8",
  0x4a: "BININT", 0x4b: "BININT1", 0x4d: "BININT2", 0x8a: "LONG1", 0x8b: "LONG4", 0x47: "BINFLOAT",
  0x4e: "NONE", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x73: "SETITEM", 0x75: "SETITEMS", 0x61: "APPEND", 0x65: "APPENDS",
  0x63: "GLOBAL", 0x93: "STACK_GLOBAL", 0x52: "REDUCE", 0x62: "BUILD", 0x81: "NEWOBJ", 0x51: "BINPERSID",
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads one pickle; returns its value and the offset just past its STOP. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): { value: unknown; end: number } {
  const source = options.source ?? "pickle";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const memo = new Map<number, unknown>();
  // Which handler made each object, so BUILD asks the right one.
  const madeBy = new WeakMap<object, GlobalHandler>();
  const metastack: unknown[][] = [];
  let stack: unknown[] = [];
  let pos = options.offset ?? 0;
  let at = pos; // offset of the current opcode, for errors
  let op = 0;

  const fail = (message: string): never => {
    throw new PickleError(`${source}: ${message} (${OPCODE_NAMES[op] ?? `opcode 0x${hex(op)}`} at byte ${at}).`, at);
  };
  const truncated = (detail: string): never => {
    throw new PickleTruncatedError(`${source}: the pickle is truncated: ${detail} (${OPCODE_NAMES[op] ?? `opcode 0x${hex(op)}`} at byte ${at}).`, at);
  };
  const take = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < 0) fail(`length ${n} is invalid`);
    if (pos + n > bytes.length) truncated(`${n} more bytes needed, ${bytes.length - pos} left`);
    const start = pos;
    pos += n;
    return start;
  };
  const u8 = () => bytes[take(1)];
  const u16 = () => view.getUint16(take(2), true);
  const u32 = () => view.getUint32(take(4), true);
  const u64 = (): number => {
    const big = view.getBigUint64(take(8), true);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${big} is too large`);
    return Number(big);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail("stack underflow");
    const v = stack.pop();
    if (v === MARK) fail("unexpected MARK");
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    if (metastack.length === 0) fail("no MARK to pop to");
    const items = stack;
    stack = metastack.pop() as unknown[];
    return items;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) truncated("a GLOBAL's name has no end of line");
    const text = utf8.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const text = (n: number): string => {
    const start = take(n);
    try {
      return utf8.decode(bytes.subarray(start, start + n));
    } catch {
      return fail("a string is not valid UTF-8");
    }
  };
  const resolve = (module: string, name: string): PickleGlobal => {
    const qualified = `${module}.${name}`;
    const handler = Object.prototype.hasOwnProperty.call(options.globals, qualified) ? options.globals[qualified] : undefined;
    if (!handler) {
      throw new RefusedGlobalError(
        `${source}: refused to load: the pickle names ${qualified} (${OPCODE_NAMES[op]} at byte ${at}), which is not on the allow-list; ` +
          `nothing from the file was run.${options.refusalHint ? ` ${options.refusalHint}` : ""}`,
        at,
        qualified,
      );
    }
    return new PickleGlobal(qualified, handler);
  };
  // A handler's complaint about its arguments, reported with the file and the opcode's offset.
  const guarded = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof PickleError) throw err;
      return fail(`${what}: ${(err as Error).message}`);
    }
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof PickleGlobal)) return fail(`only an allowed global can be called, got ${describe(fn)}`);
    if (!Array.isArray(args)) return fail(`${fn.qualifiedName}'s arguments must be a tuple, got ${describe(args)}`);
    const obj = guarded(fn.qualifiedName, () => fn.handler.call(args));
    if (obj !== null && typeof obj === "object") madeBy.set(obj, fn.handler);
    return obj;
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof Map)) fail(`SETITEM(S) needs a dict, got ${describe(dict)}`);
    if (items.length % 2) fail("SETITEMS needs key/value pairs");
    for (let i = 0; i < items.length; i += 2) (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const append = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list) || Object.isFrozen(list)) fail(`APPEND(S) needs a list, got ${describe(list)}`);
    (list as unknown[]).push(...items);
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo entry ${i} was never stored`);
    return memo.get(i);
  };
  const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);

  for (;;) {
    at = pos;
    if (pos >= bytes.length) {
      op = -1;
      throw new PickleTruncatedError(`${source}: the pickle is truncated: it ends at byte ${pos} without a STOP opcode.`, pos);
    }
    op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("pickle protocols above 5 are not supported");
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length && stack[stack.length - 1] === MARK) stack.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: { // TUPLE (popMark swaps `stack`, so it runs before stack.push is looked up)
        const items = popMark();
        stack.push(tuple(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push(tuple([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(tuple([pop(), b, c]));
        break;
      }
      case 0x6c: { // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x64: { // DICT
        const dict = new Map();
        const items = popMark();
        setItems(dict, items);
        stack.push(dict);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x42: // BINBYTES
      case 0x43: // SHORT_BINBYTES
      case 0x8e: { // BINBYTES8
        const n = op === 0x42 ? u32() : op === 0x43 ? u8() : u64();
        const start = take(n);
        stack.push(bytes.slice(start, start + n));
        break;
      }
      case 0x4a: // BININT
        stack.push(view.getInt32(take(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
      case 0x8b: { // LONG4
        const n = op === 0x8a ? u8() : u32();
        // torch writes sizes and offsets (8 bytes at most); decoding is quadratic in n, so a huge one would hang the reader.
        if (n > MAX_LONG_BYTES) fail(`a ${n}-byte integer (LONG${op === 0x8a ? "1" : "4"}); a state dict's integers take at most ${MAX_LONG_BYTES} bytes`);
        stack.push(decodeLong(bytes.subarray(take(n), pos)));
        break;
      }
      case 0x47: // BINFLOAT: big-endian, unlike everything else
        stack.push(view.getFloat64(take(8), false));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        append(top(), [value]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x63: { // GLOBAL: "module\nname\n", checked before anything else is read
        const module = line();
        stack.push(resolve(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args), the same call for our handlers
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = pop();
        const build = obj !== null && typeof obj === "object" ? madeBy.get(obj)?.build : undefined;
        if (!build) return fail(`BUILD (setting an object's state) is not supported on ${describe(obj)}`);
        stack.push(guarded("BUILD", () => build(obj, state)));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        const load = options.persistentLoad;
        if (!load) return fail("persistent ids are not expected in this pickle");
        stack.push(guarded("persistent id", () => load(pid)));
        break;
      }
      default: {
        const printable = op >= 0x20 && op < 0x7f ? ` '${String.fromCharCode(op)}'` : "";
        throw new PickleError(
          `${source}: unsupported pickle opcode 0x${hex(op)}${printable} at byte ${at}; only the binary opcodes torch.save writes (protocols 2-5) are read.`,
          at,
        );
      }
    }
  }
}

const MAX_LONG_BYTES = 64;

/** Python's little-endian two's-complement int: a number when it is safe, a bigint otherwise. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}

function describe(v: unknown): string {
  if (v === null) return "None";
  if (v instanceof PickleGlobal) return v.qualifiedName;
  if (v instanceof Map) return "a dict";
  if (Array.isArray(v)) return Object.isFrozen(v) ? "a tuple" : "a list";
  if (v instanceof Uint8Array) return "bytes";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}
