import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';

type Transform = typeof jsonSchemaTransform;

export interface RouteExamples {
  /** Per status code: named examples of the JSON response (shown as the media type's `examples`). */
  responses?: Record<number, Record<string, { summary?: string; value: unknown }>>;
  /** Named examples of the JSON request body. */
  requests?: Record<string, { summary?: string; value: unknown }>;
  /** Documentation-only request bodies, per content type (for routes that read the raw body). */
  bodies?: Record<string, z.ZodType>;
}

/**
 * A route-level `config.swaggerTransform`: the usual zod transform, then route-specific examples.
 * Component schemas in @unroll/protocol carry their generic example (`.meta({ example })`); this
 * adds what only the route knows (a queued job for POST /v1/jobs, a cancelled one for cancel...)
 * and request bodies of routes that stream their body instead of validating it.
 */
export function withExamples(examples: RouteExamples): Transform {
  return (document) => {
    const result = jsonSchemaTransform(document);
    const schema: Record<string, any> = { ...result.schema };
    if (examples.bodies) {
      const content: Record<string, { schema: unknown }> = {};
      for (const [type, body] of Object.entries(examples.bodies)) {
        content[type] = { schema: z.toJSONSchema(body, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) };
      }
      schema.body = { content };
    }
    if (examples.requests) {
      if (!schema.body) throw new Error(`withExamples: ${document.url} has no request body`);
      // @fastify/swagger turns a body schema's `x-examples` into the media type's named examples;
      // it drops keywords beside a bare `$ref`, so a referenced schema is wrapped in `allOf`.
      const body = schema.body.$ref ? { allOf: [schema.body] } : schema.body;
      schema.body = { ...body, 'x-examples': examples.requests };
    }
    if (examples.responses) {
      schema.response = { ...schema.response };
      for (const [code, named] of Object.entries(examples.responses)) {
        const json = schema.response[code];
        if (!json) throw new Error(`withExamples: ${document.url} has no ${code} response`);
        const { description, ...jsonSchema } = json;
        schema.response[code] = {
          description: description ?? 'Default Response',
          content: { 'application/json': { schema: jsonSchema, examples: named } },
        };
      }
    }
    return { ...result, schema };
  };
}
