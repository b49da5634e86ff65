/** Pure: the worst-case cost of a request in USD (prices are USD per million tokens). */
export function worstCaseUsd(promptTokens: number, maxOutputTokens: number, price: { input: number; output: number }): number {
  return (promptTokens * price.input + maxOutputTokens * price.output) / 1e6;
}
