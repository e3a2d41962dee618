// Allocator for the kernels' shared WebAssembly memory: first-fit over a sorted free list with
// coalescing, 64-byte aligned blocks (one cache line; f32x4 loads never straddle lines at block
// starts), growing the memory on demand. Address 0..ARENA_START is never handed out.
//
// Training allocates a few dozen long-lived buffers per trainer, so O(blocks) is fine.

import type { WasmMemory } from './wasm-api.ts';

const PAGE = 65536;
/** Bytes below the first block (never handed out). */
export const ARENA_START = 1024;
/** Every block is a multiple of this many bytes (and at least one). */
export const ARENA_ALIGN = 64;
const ALIGN = ARENA_ALIGN;

interface Span {
  start: number;
  size: number;
}

export class WasmArena {
  readonly memory: WasmMemory;
  private readonly free: Span[] = [];
  private readonly used = new Map<number, number>(); // start -> size
  private top = ARENA_START;
  private highWater = ARENA_START;
  private readonly buffers = new Set<ArrayBufferLike>();
  private current: ArrayBufferLike;

  constructor(memory: WasmMemory) {
    this.memory = memory;
    this.current = memory.buffer;
    this.buffers.add(this.current);
  }

  /** Bytes currently handed out. */
  get bytesInUse(): number {
    let total = 0;
    for (const size of this.used.values()) total += size;
    return total;
  }

  /**
   * Highest address ever handed out (bytes from 0, ARENA_START included): the linear memory the
   * allocations needed at their peak. memory.grow rounds up to pages (and grows ahead by a quarter
   * while it can), but near the maximum it grows only what is needed, so this is what must fit.
   */
  get highWaterBytes(): number {
    return this.highWater;
  }

  /** Whether a typed array's storage is this memory (any generation of its buffer). */
  owns(view: ArrayBufferView): boolean {
    return view.buffer === this.current || this.buffers.has(view.buffer);
  }

  /** Byte address of a zeroed block of `bytes` bytes. */
  allocBytes(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let start = -1;
    for (let i = 0; i < this.free.length; i++) {
      const span = this.free[i];
      if (span.size < size) continue;
      start = span.start;
      if (span.size === size) this.free.splice(i, 1);
      else {
        span.start += size;
        span.size -= size;
      }
      break;
    }
    if (start < 0) {
      start = this.top;
      this.ensure(start + size);
      this.top += size;
      this.highWater = Math.max(this.highWater, this.top);
    }
    this.used.set(start, size);
    new Uint8Array(this.current, start, size).fill(0);
    return start;
  }

  freeBytes(start: number): void {
    const size = this.used.get(start);
    if (size === undefined) throw new Error(`wasm arena: no block at address ${start}`);
    this.used.delete(start);
    let i = 0;
    while (i < this.free.length && this.free[i].start < start) i++;
    this.free.splice(i, 0, { start, size });
    // coalesce with the next, then with the previous span
    const span = this.free[i];
    const next = this.free[i + 1];
    if (next && span.start + span.size === next.start) {
      span.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.start + prev.size === span.start) {
      prev.size += span.size;
      this.free.splice(i, 1);
    }
    // give the tail back to the bump pointer so repeated alloc/free does not fragment
    const last = this.free[this.free.length - 1];
    if (last && last.start + last.size === this.top) {
      this.top = last.start;
      this.free.pop();
    }
  }

  float32(n: number): Float32Array {
    const start = this.allocBytes(4 * n); // first: it may grow the memory and replace `current`
    return new Float32Array(this.current, start, n);
  }

  int32(n: number): Int32Array {
    const start = this.allocBytes(4 * n);
    return new Int32Array(this.current, start, n);
  }

  /** Releases a block returned by float32 / int32 (the view must start at the block). */
  release(view: ArrayBufferView): void {
    if (!this.owns(view)) throw new Error('wasm arena: view is not in this memory');
    this.freeBytes(view.byteOffset);
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      // grow by at least 1/4 of the current size so many small allocations grow rarely
      try {
        this.memory.grow(Math.max(pages, Math.ceil(have / PAGE / 4)));
      } catch {
        this.memory.grow(pages); // near the maximum: grow only what is needed (throws when it cannot)
      }
    }
    if (this.memory.buffer !== this.current) {
      this.current = this.memory.buffer;
      this.buffers.add(this.current);
    }
  }
}

/** A block of the arena reused by call after call, replaced by one at least twice as large when a call needs more. */
export class ScratchBlock<T extends Float32Array | Int32Array> {
  private block: T;

  constructor(
    private readonly arena: WasmArena,
    private readonly make: (n: number) => T,
    initial: number,
  ) {
    this.block = make(initial);
  }

  /** The block, holding at least n elements (its contents are not kept when it grows). */
  atLeast(n: number): T {
    if (this.block.length < n) {
      this.arena.release(this.block);
      this.block = this.make(Math.max(n, 2 * this.block.length));
    }
    return this.block;
  }
}
