/** Canonical embeddings: the OpenAI `POST /v1/embeddings` shapes. */
import { Type as T, type Static } from "@sinclair/typebox";
import { MAX_ID_CHARS } from "./limits.ts";

export const EmbeddingsRequest = T.Object(
  {
    model: T.String({ minLength: 1, maxLength: MAX_ID_CHARS }),
    input: T.Union([T.String(), T.Array(T.String(), { minItems: 1 }), T.Array(T.Integer()), T.Array(T.Array(T.Integer()), { minItems: 1 })]),
    encoding_format: T.Optional(T.Union([T.Literal("float"), T.Literal("base64")])),
    dimensions: T.Optional(T.Integer({ minimum: 1 })),
    user: T.Optional(T.String({ maxLength: MAX_ID_CHARS })),
  },
  { additionalProperties: true },
);
export type EmbeddingsRequest = Static<typeof EmbeddingsRequest>;

export interface EmbeddingsResponse {
  object: "list";
  data: Array<{ object: "embedding"; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}
