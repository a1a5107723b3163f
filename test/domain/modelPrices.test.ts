import { describe, expect, it } from 'vitest';
import type { AgentUsage } from '../../src/adapters/agentStream.ts';
import { CODEX_DEFAULT_MODEL } from '../../src/adapters/codex/codexStreamParser.ts';
import { estimateCostUsd, FALLBACK_PRICE, MODEL_PRICES, priceModelOf } from '../../src/domain/modelPrices.ts';

const usage = (overrides: Partial<AgentUsage>): AgentUsage => ({
  provider: 'openai',
  model: CODEX_DEFAULT_MODEL,
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
  costUsd: null,
  ...overrides,
});

describe('estimating what a run cost from its tokens', () => {
  it("Codex's default model has a price of its own", () => {
    expect(priceModelOf(CODEX_DEFAULT_MODEL)).toBe(CODEX_DEFAULT_MODEL);
  });

  it('a million tokens of each kind cost the listed prices; cached tokens are part of OpenAI input, billed at the cached rate', () => {
    const price = MODEL_PRICES['gpt-6.2-sol'];
    const cost = estimateCostUsd(usage({ inputTokens: 2_000_000, cachedInputTokens: 1_000_000, outputTokens: 1_000_000 }));
    expect(cost).toEqual({ costUsd: price.input + price.cachedInput + price.output, estimated: true, priceModel: 'gpt-6.2-sol' });
  });

  it("the recorded Codex run (40 input of which 10 cached, 8 output) on gpt-6.2-sol costs $0.000141", () => {
    expect(estimateCostUsd(usage({ inputTokens: 40, cachedInputTokens: 10, outputTokens: 8 })).costUsd).toBe(0.000141);
  });

  it('Anthropic counts cache reads outside input, so they are added, not subtracted', () => {
    const cost = estimateCostUsd(usage({ provider: 'anthropic', model: 'gpt-6.2-sol', inputTokens: 1_000_000, cachedInputTokens: 1_000_000 }));
    expect(cost.costUsd).toBeCloseTo(MODEL_PRICES['gpt-6.2-sol'].input + MODEL_PRICES['gpt-6.2-sol'].cachedInput, 9);
  });

  it('a provider prefix or a dated snapshot is priced as its model', () => {
    expect(priceModelOf('openai/gpt-6.1-sol')).toBe('gpt-6.1-sol');
    expect(priceModelOf('gpt-5-codex-2026-01-15')).toBe('gpt-5-codex');
    expect(priceModelOf('GPT-6-Luna')).toBe('gpt-6-luna');
  });

  it('an unknown or missing model is priced like the dearest model Codex lists, so a budget is never under-counted', () => {
    const unknown = estimateCostUsd(usage({ model: 'gpt-99-hyper', inputTokens: 1_000_000, outputTokens: 1_000_000 }));
    expect(unknown).toEqual({ costUsd: FALLBACK_PRICE.input + FALLBACK_PRICE.output, estimated: true, priceModel: 'fallback' });
    expect(estimateCostUsd(usage({ model: null, outputTokens: 1_000_000 })).priceModel).toBe('fallback');
    for (const price of Object.values(MODEL_PRICES)) {
      expect(FALLBACK_PRICE.input).toBeGreaterThanOrEqual(price.input);
      expect(FALLBACK_PRICE.output).toBeGreaterThanOrEqual(price.output);
    }
  });

  it('more cached tokens than input tokens (a miscount) never yields a negative cost', () => {
    expect(estimateCostUsd(usage({ inputTokens: 10, cachedInputTokens: 50 })).costUsd).toBeGreaterThanOrEqual(0);
  });
});
