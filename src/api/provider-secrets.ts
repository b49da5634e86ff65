/**
 * What the admin API lets a provider entity do with secrets (issue 22, finding 5):
 * - `api_key_env` may only name a variable with the configured prefix (default
 *   `TOLLGATE_PROVIDER_`) or one on the explicit allow-list, so an admin key cannot make the
 *   gateway send `TOLLGATE_MASTER_KEY`, `CLICKHOUSE_PASSWORD` or cloud credentials upstream;
 * - changing `base_url` of a provider that has a key needs the key (or key variable) again in
 *   the same change: a stored key never follows the provider to another host;
 * - a literal `api_key` is sealed bound to the `base_url` (AES-GCM additional data), so even a
 *   changed URL that got past this check cannot open it.
 * The bootstrap file (written by the operator) may name any variable.
 */
import { encryptSecret, maskKey, providerKeyAad } from "../config/secrets.ts";
import { GatewayError } from "../pipeline/errors.ts";

export const DEFAULT_PROVIDER_ENV_PREFIX = "TOLLGATE_PROVIDER_";

export interface ProviderEnvPolicy {
  prefix: string;
  allow: readonly string[];
}

const bad = (code: string, param: string, message: string) => new GatewayError({ status: 400, code, param, message });

/** Check a provider create (`existing` undefined) or change against the policy; throws a 400. */
export function checkProviderSecrets(policy: ProviderEnvPolicy, body: Record<string, unknown>, existing: Record<string, unknown> | undefined): void {
  const env = body.api_key_env;
  if (typeof env === "string" && !(policy.prefix !== "" && env.startsWith(policy.prefix)) && !policy.allow.includes(env)) {
    throw bad("env_not_allowed", "api_key_env", `\`api_key_env\` must name a variable starting with ${policy.prefix || "(no prefix configured)"} or one listed in TOLLGATE_PROVIDER_ENV_ALLOW`);
  }
  if (!existing || !("base_url" in body) || body.base_url === existing.base_url) return;
  const hasKey = Boolean(existing.api_key_enc) || Boolean(existing.api_key_env);
  if (hasKey && !("api_key" in body) && !("api_key_env" in body)) {
    throw bad("api_key_required", "api_key", "Changing `base_url` of a provider with a key needs `api_key` (or `api_key_env`) again in the same change");
  }
  if (existing.headers_enc && !("headers" in body)) {
    throw bad("headers_required", "headers", "Changing `base_url` of a provider with stored headers needs `headers` again in the same change");
  }
}

/** Header values masked like keys (`Bearer …abcd`): what events, state and the API show. */
export function maskHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, maskKey(v)]));
}

/** Seal the headers (JSON) bound to the base URL; the stored `headers` keep masked values only. */
export function sealProviderHeaders(headers: Record<string, string>, masterKey: Buffer, baseUrl: unknown): { headers: Record<string, string>; headers_enc: string } {
  return { headers: maskHeaders(headers), headers_enc: encryptSecret(JSON.stringify(headers), masterKey, providerKeyAad(baseUrl)) };
}

/** Seal a literal key bound to the provider's base URL (the new one when it changes). */
export function sealProviderKey(apiKey: string, masterKey: Buffer, baseUrl: unknown): { api_key_enc: string; api_key_hint: string } {
  return { api_key_enc: encryptSecret(apiKey, masterKey, providerKeyAad(baseUrl)), api_key_hint: maskKey(apiKey) };
}
