/**
 * The one price table for the models whose cost Vigil estimates (a CLI that reports tokens but no
 * money: Codex). USD per million tokens, OpenAI's Standard tier, short context.
 *
 * Sources, as stored offline copies: OpenAI's model pages (developers.openai.com/api/docs/models/<id>)
 * and announcements of their price changes, read on 2026-12-05 — gpt-6.2-* as published on
 * 2026-11-17, gpt-6.1-* on 2026-09-29, gpt-6-* on 2026-09-03/22, gpt-5.6-* after the 2026-07-30
 * cut; the older models' rates are those OpenAI kept listing for them. gpt-6.2-astra's cached rate
 * ($0.40) is derived from "cached input 60% cheaper" than gpt-6-astra's $1.
 *
 * Not modelled: requests over 272K input tokens (input ×2, output ×1.5 for the whole request),
 * Fast/priority mode (×2), cache writes (a little above the input rate), Batch/Flex (×0.5). A
 * run's usage is an aggregate, so none of them can be told apart afterwards.
 */
import type { AgentUsage } from '../adapters/agentStream.ts';

export interface ModelPrice {
  /** USD per million uncached input tokens. */
  input: number;
  /** USD per million input tokens read from the prompt cache. */
  cachedInput: number;
  /** USD per million output tokens (reasoning included). */
  output: number;
}

export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  // Codex 0.171.0's catalogue; its default is gpt-6.2-sol.
  'gpt-6.2-astra': { input: 8, cachedInput: 0.4, output: 40 },
  'gpt-6.2-sol': { input: 2, cachedInput: 0.1, output: 10 },
  'gpt-6.1-sol': { input: 2, cachedInput: 0.1, output: 10 },
  'gpt-6.1-terra': { input: 1, cachedInput: 0.05, output: 5 },
  'gpt-6-astra': { input: 10, cachedInput: 1, output: 50 },
  'gpt-6-sol': { input: 2, cachedInput: 0.2, output: 10 },
  'gpt-6-luna': { input: 0.1, cachedInput: 0.01, output: 0.5 },
  'gpt-5.6-sol': { input: 5, cachedInput: 0.5, output: 30 },
  'gpt-5.6-terra': { input: 2, cachedInput: 0.2, output: 12 },
  'gpt-5.6-luna': { input: 0.2, cachedInput: 0.02, output: 1.2 },
  'gpt-5.5': { input: 5, cachedInput: 0.5, output: 30 },
  // Earlier models an agent config may still name.
  'gpt-5.4': { input: 2.5, cachedInput: 0.25, output: 15 },
  'gpt-5.4-mini': { input: 0.75, cachedInput: 0.075, output: 4.5 },
  'gpt-5.3-codex': { input: 1.75, cachedInput: 0.175, output: 14 },
  'gpt-5.2-codex': { input: 1.75, cachedInput: 0.175, output: 14 },
  'gpt-5.2': { input: 1.75, cachedInput: 0.175, output: 14 },
  'gpt-5.1-codex': { input: 1.25, cachedInput: 0.125, output: 10 },
  'gpt-5-codex': { input: 1.25, cachedInput: 0.125, output: 10 },
  'gpt-5': { input: 1.25, cachedInput: 0.125, output: 10 },
  'gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2 },
  'o4-mini': { input: 1.1, cachedInput: 0.275, output: 4.4 },
  'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
};

/**
 * An unknown model is priced like the dearest model Codex 0.171.0 lists (gpt-6-astra): a budget
 * may be over-counted, never under-counted.
 */
export const FALLBACK_PRICE_MODEL = 'fallback';
export const FALLBACK_PRICE: ModelPrice = MODEL_PRICES['gpt-6-astra'];

/** The table entry a model id is priced by: exact, else without a provider prefix or a date snapshot. */
export function priceModelOf(model: string | null): string | null {
  if (!model) return null;
  const id = model.trim().toLowerCase();
  const candidates = [id, id.replace(/^(?:openai|azure)[/:.]/, '')];
  for (const candidate of [...candidates]) candidates.push(candidate.replace(/-\d{4}-\d{2}-\d{2}$/, ''));
  return candidates.find((candidate) => Object.hasOwn(MODEL_PRICES, candidate)) ?? null;
}

/**
 * What a run's tokens cost at list price. OpenAI counts cached tokens inside `inputTokens`;
 * Anthropic outside it (src/adapters/agentStream.ts `AgentUsage`).
 */
export function estimateCostUsd(usage: AgentUsage): { costUsd: number; estimated: true; priceModel: string } {
  const priceModel = priceModelOf(usage.model);
  const price = priceModel !== null ? MODEL_PRICES[priceModel] : FALLBACK_PRICE;
  const cached = Math.max(0, usage.cachedInputTokens);
  const uncached = usage.provider === 'anthropic' ? Math.max(0, usage.inputTokens) : Math.max(0, usage.inputTokens - Math.min(cached, usage.inputTokens));
  const cachedBilled = usage.provider === 'anthropic' ? cached : Math.min(cached, Math.max(0, usage.inputTokens));
  const micros = uncached * price.input + cachedBilled * price.cachedInput + Math.max(0, usage.outputTokens) * price.output;
  // Prices are per million tokens: tokens × price is micro-dollars. Kept to the micro-dollar.
  return { costUsd: Math.round(micros) / 1_000_000, estimated: true, priceModel: priceModel ?? FALLBACK_PRICE_MODEL };
}
