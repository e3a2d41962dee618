import type { Redis } from 'ioredis';

// Newest-first pages over a zset scored by creation time (ms). The cursor is the last item's
// (score, id); ids are time-ordered, so within one millisecond REV order is descending id order.

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

interface Cursor {
  score: number;
  id: string;
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.score}:${c.id}`).toString('base64url');
}

export function decodeCursor(raw: string): Cursor {
  const text = Buffer.from(raw, 'base64url').toString('utf8');
  const m = /^(\d{1,16}):([a-z]+_[0-9a-z]{8,40})$/.exec(text);
  if (!m) throw new InvalidCursorError('invalid cursor');
  return { score: Number(m[1]), id: m[2] };
}

/**
 * Walks the zset from the cursor, loads each member with `load` (null = skip, e.g. expired or
 * filtered out; `stale` members are removed from the zset) until `limit` items are found.
 */
export async function zsetPage<T>(
  redis: Redis,
  key: string,
  opts: { cursor?: string; limit: number },
  load: (ids: string[]) => Promise<({ item: T } | { skip: true; stale?: boolean })[]>,
): Promise<Page<T>> {
  const cursor = opts.cursor === undefined ? null : decodeCursor(opts.cursor);
  const batch = Math.max(opts.limit * 2, 50);
  const found: { item: T; id: string; score: number }[] = [];
  let offset = 0;
  for (;;) {
    const raw = await redis.zrange(key, cursor ? String(cursor.score) : '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', offset, batch, 'WITHSCORES');
    if (raw.length === 0) break;
    offset += raw.length / 2;
    const members: { id: string; score: number }[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const id = raw[i];
      const score = Number(raw[i + 1]);
      if (cursor && score === cursor.score && id >= cursor.id) continue; // already served
      members.push({ id, score });
    }
    const loaded = members.length ? await load(members.map((m) => m.id)) : [];
    const stale: string[] = [];
    loaded.forEach((entry, i) => {
      if ('item' in entry) found.push({ item: entry.item, ...members[i] });
      else if (entry.stale) stale.push(members[i].id);
    });
    if (stale.length) {
      await redis.zrem(key, ...stale);
      offset -= stale.length; // the zset shrank under our offset
    }
    if (found.length > opts.limit || raw.length / 2 < batch) break;
  }
  const items = found.slice(0, opts.limit);
  const last = items.at(-1);
  const nextCursor = found.length > opts.limit && last ? encodeCursor({ score: last.score, id: last.id }) : null;
  return { items: items.map((f) => f.item), nextCursor };
}
