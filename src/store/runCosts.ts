/**
 * What a run spent, as its CLI reported it (or as Vigil estimated it from the tokens): one
 * `cost_events` row per run, `source = 'run'`, and the agent's running totals in
 * `agent_runtime_state`. Budgets (R74, src/store/budget.ts) sum the rows.
 *
 * Idempotent: the partial unique index `cost_events_run_usage_uq` (migration `sessions_and_costs`)
 * admits one `run` row per run; the insert skips a duplicate, and the totals move only when the
 * row went in, so a finalize retried after its commit counts the run once. Cost events a run token
 * POSTs through the API are `source = 'api'` and unaffected.
 */
import type { Prisma, PrismaClient } from './db.ts';

type Db = PrismaClient | Prisma.TransactionClient;

/** The cost event's `source` for a run's own usage. */
export const RUN_USAGE_SOURCE = 'run';

const INT4_MAX = 2_147_483_647;

export interface RunUsage {
  /** `anthropic`, `openai`, …; also the event's `biller`. */
  provider: string;
  /** Null when the CLI named none; stored as `unknown`. */
  model: string | null;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  /** Dollars, reported by the CLI or estimated by Vigil. */
  costUsd: number;
  /** True when Vigil estimated `costUsd` (Codex reports no money). */
  estimated: boolean;
  /** Default `metered_api`. */
  billingType?: string;
}

export interface RecordRunUsageInput {
  run: { id: string; companyId: string; agentId: string; issueId: string | null; projectId?: string | null };
  usage: RunUsage;
  occurredAt: Date;
}

export interface RecordRunUsageResult {
  /** False when the run's usage had been recorded already (a retried finalize): nothing changed. */
  recorded: boolean;
  costCents: number;
  costUsdMicros: bigint;
}

/** A count as the CLI reported it: a non-negative integer (anything else counts as 0). */
function count(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

/** Dollars → micro-dollars, exact to the micro-dollar; a negative or non-finite amount is 0. */
export function usdToMicros(usd: number): bigint {
  return BigInt(count(usd * 1_000_000));
}

/** Micro-dollars → cents, rounded to the nearest cent (half a cent rounds up). */
export function microsToCents(micros: bigint): number {
  return Number((micros + 5_000n) / 10_000n);
}

export async function recordRunUsage(db: Db, input: RecordRunUsageInput): Promise<RecordRunUsageResult> {
  const { run, usage } = input;
  const tokens = { input: count(usage.inputTokens), cached: count(usage.cachedInputTokens), output: count(usage.outputTokens) };
  const costUsdMicros = usdToMicros(usage.costUsd);
  const costCents = Math.min(microsToCents(costUsdMicros), INT4_MAX);
  // ON CONFLICT DO NOTHING: the second `run` row of a run meets cost_events_run_usage_uq and is skipped.
  const { count: inserted } = await db.costEvent.createMany({
    data: [
      {
        companyId: run.companyId,
        agentId: run.agentId,
        issueId: run.issueId,
        projectId: run.projectId ?? null,
        heartbeatRunId: run.id,
        provider: usage.provider,
        biller: usage.provider,
        billingType: usage.billingType ?? 'metered_api',
        model: usage.model ?? 'unknown',
        // The columns are integers; the totals below take the counts unclamped.
        inputTokens: Math.min(tokens.input, INT4_MAX),
        cachedInputTokens: Math.min(tokens.cached, INT4_MAX),
        outputTokens: Math.min(tokens.output, INT4_MAX),
        costCents,
        costUsdMicros,
        estimated: usage.estimated,
        source: RUN_USAGE_SOURCE,
        occurredAt: input.occurredAt,
      },
    ],
    skipDuplicates: true,
  });
  if (inserted === 0) return { recorded: false, costCents, costUsdMicros };
  // The agent's totals, created with the agent's adapter type when it has no row yet.
  await db.$executeRaw`
    INSERT INTO agent_runtime_state
      (agent_id, company_id, adapter_type, total_input_tokens, total_cached_input_tokens, total_output_tokens,
       total_cost_cents, total_cost_usd_micros, updated_at)
    SELECT a.id, a.company_id, a.adapter_type, ${tokens.input}::bigint, ${tokens.cached}::bigint, ${tokens.output}::bigint,
           ${costCents}::bigint, ${costUsdMicros}::bigint, now()
    FROM agents a WHERE a.id = ${run.agentId}::uuid
    ON CONFLICT (agent_id) DO UPDATE SET
      total_input_tokens = agent_runtime_state.total_input_tokens + EXCLUDED.total_input_tokens,
      total_cached_input_tokens = agent_runtime_state.total_cached_input_tokens + EXCLUDED.total_cached_input_tokens,
      total_output_tokens = agent_runtime_state.total_output_tokens + EXCLUDED.total_output_tokens,
      total_cost_cents = agent_runtime_state.total_cost_cents + EXCLUDED.total_cost_cents,
      total_cost_usd_micros = agent_runtime_state.total_cost_usd_micros + EXCLUDED.total_cost_usd_micros,
      updated_at = now()`;
  return { recorded: true, costCents, costUsdMicros };
}
