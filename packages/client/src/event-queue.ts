/** A push/pull queue: producers push values or a failure, one consumer awaits them in order. */
export class EventQueue<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | null = null;
  private failure: { error: unknown } | null = null;
  private ended = false;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  /** No more items: `next()` answers `null` once the buffered ones are taken. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  fail(error: unknown): void {
    this.failure ??= { error };
    this.wake();
  }

  /** The next item; `null` after `end()`; throws after `fail()` (buffered items first). */
  async next(): Promise<T | null> {
    for (;;) {
      if (this.items.length > 0) return this.items.shift()!;
      if (this.failure) throw this.failure.error;
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
