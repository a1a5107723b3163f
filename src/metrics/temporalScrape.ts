/**
 * `GET /metrics` = Vigil's registry followed by the Temporal worker's own metrics, which the
 * Temporal Core runtime serves on a local Prometheus endpoint (`temporal/runtime.ts`). Only the
 * `temporal_` families are appended, so nothing can collide with prom-client's.
 */
import type { VigilMetrics } from './vigilMetrics.ts';

const TEMPORAL_FETCH_TIMEOUT_MS = 2_000;

function familyOf(line: string): string {
  if (line.startsWith('#')) return line.split(/\s+/)[2] ?? '';
  const end = line.search(/[{\s]/);
  return end === -1 ? line : line.slice(0, end);
}

/** Keeps the `temporal_` families of a Prometheus text exposition (and drops everything else). */
export function temporalFamilies(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && familyOf(line).startsWith('temporal_'))
    .join('\n');
}

async function fetchTemporalMetrics(url: string): Promise<string | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TEMPORAL_FETCH_TIMEOUT_MS) });
    return response.ok ? temporalFamilies(await response.text()) : null;
  } catch {
    return null;
  }
}

export async function renderMetrics(metrics: VigilMetrics, temporalMetricsUrl: string | null): Promise<string> {
  const temporal = temporalMetricsUrl ? await fetchTemporalMetrics(temporalMetricsUrl) : null;
  metrics.temporalScrape(temporal !== null);
  const own = await metrics.registry.metrics();
  return temporal ? `${own.trimEnd()}\n${temporal}\n` : own;
}
