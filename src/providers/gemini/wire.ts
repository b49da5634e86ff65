/**
 * Google Generative Language API v1beta wire shapes (the subset this adapter reads and
 * writes). Field names are Google's JSON names (lowerCamelCase).
 */

type Json = Record<string, unknown>;

/** One part of a turn: exactly one of text / inlineData / fileData / functionCall / functionResponse. */
export interface GeminiPart {
  text?: string;
  /** A thought summary (thinking models with `includeThoughts`): never part of the answer. */
  thought?: boolean;
  /** Opaque signature of the model's reasoning, attached to (the first) functionCall part. */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { fileUri: string; mimeType?: string };
  functionCall?: { name: string; args?: Json };
  functionResponse?: { name: string; response: Json };
}

export interface GeminiContent {
  role: "user" | "model";
  parts: GeminiPart[];
}

export interface GeminiFunctionCallingConfig {
  mode: "AUTO" | "ANY" | "NONE";
  allowedFunctionNames?: string[];
}

/** The body of `models/{model}:generateContent` and `:streamGenerateContent`. */
export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: Array<{ text: string }> };
  generationConfig: Json;
  tools?: Array<{ functionDeclarations: Json[] }>;
  toolConfig?: { functionCallingConfig: GeminiFunctionCallingConfig };
}

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  totalTokenCount?: number;
}

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  index?: number;
}

/** A `GenerateContentResponse` (the whole answer, or one SSE event of a stream). */
export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
}

/** `batchEmbedContents` request and response. */
export interface GeminiBatchEmbedRequest {
  requests: Array<{ model: string; content: { parts: Array<{ text: string }> }; outputDimensionality?: number }>;
}
export interface GeminiBatchEmbedResponse {
  embeddings: Array<{ values: number[] }>;
}
