/** Schemas shared by routes for the API documentation. */
import { Type as T } from "@sinclair/typebox";

export const ErrorBodySchema = T.Object({
  error: T.Object({
    message: T.String(),
    type: T.String(),
    code: T.String({ description: "Stable machine-readable code, e.g. `model_not_found`" }),
    param: T.Union([T.String(), T.Null()]),
  }),
});

/** An OpenAPI `content` entry for a TypeBox schema (TypeBox emits JSON Schema; the typings differ). */
export function jsonContent(schema: object): { "application/json": { schema: Record<string, never> } } {
  return { "application/json": { schema: schema as Record<string, never> } };
}

/** OpenAPI response entries for error statuses, all with the OpenAI-style error body. */
export function errorResponses(entries: Record<number, string>) {
  return Object.fromEntries(
    Object.entries(entries).map(([status, description]) => [status, { description, content: jsonContent(ErrorBodySchema) }]),
  );
}
