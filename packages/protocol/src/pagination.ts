import { z } from 'zod';
import { EXAMPLE_CURSOR } from './examples.ts';

export const PageQuery = z.strictObject({
  cursor: z.string().min(1).max(200).optional().meta({ description: 'nextCursor of the previous page', example: EXAMPLE_CURSOR }),
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: 'Page size', example: 20 }),
});
export type PageQuery = z.infer<typeof PageQuery>;

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/** A page with its example (the `examples` array becomes the response's media example in the document). */
export function examplePageOf<T extends z.ZodType>(item: T, items: unknown[], nextCursor: string | null = EXAMPLE_CURSOR) {
  return pageOf(item).meta({ examples: [{ items, nextCursor }] });
}
