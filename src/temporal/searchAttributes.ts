/**
 * Registers Vigil's search attributes on a Temporal that Vigil did not start (TEMPORAL_ADDRESS):
 * a self-hosted cluster or a fresh dev server. The dev server Vigil starts gets them from
 * temporal-dev.yml instead. Node-side only; workflows import searchAttributeKeys.ts.
 */
import type { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import {
  encodeSearchAttributeIndexedValueType,
  type SearchAttributeKey,
} from '@temporalio/common/lib/search-attributes.js';
import { VIGIL_SEARCH_ATTRIBUTES } from './searchAttributeKeys.ts';

export * from './searchAttributeKeys.ts';

export interface EnsureSearchAttributesResult {
  /** Names this call registered. */
  added: string[];
  /** Names that already existed with the right type. */
  existing: string[];
}

/**
 * Adds the missing Vigil search attributes to `namespace` through the operator service and
 * fails loudly when one exists with another type (Temporal cannot change a type in place).
 * Idempotent; a concurrent registration by another Vigil process is tolerated.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  keys: readonly SearchAttributeKey<SearchAttributeType>[] = VIGIL_SEARCH_ATTRIBUTES,
): Promise<EnsureSearchAttributesResult> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = listed.customAttributes ?? {};
  const missing: Record<string, number> = {};
  const existing: string[] = [];
  for (const key of keys) {
    const wanted = encodeSearchAttributeIndexedValueType(key.type);
    if (wanted === undefined) throw new Error(`Unknown search attribute type ${key.type} for ${key.name}`);
    const present = custom[key.name];
    if (present === undefined) {
      missing[key.name] = wanted;
    } else if (present !== wanted) {
      throw new Error(
        `Search attribute ${key.name} exists in namespace "${namespace}" with another type (${present}); Vigil needs ${key.type}. ` +
          `Remove it (temporal operator search-attribute remove --name ${key.name}) or use another namespace.`,
      );
    } else {
      existing.push(key.name);
    }
  }
  const added = Object.keys(missing);
  if (added.length === 0) return { added, existing };
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (error) {
    // ALREADY_EXISTS: another process registered them between our list and add; check again.
    if ((error as { code?: number }).code !== 6) throw error;
    const again = await connection.operatorService.listSearchAttributes({ namespace });
    const stillMissing = added.filter((name) => again.customAttributes?.[name] === undefined);
    if (stillMissing.length > 0) throw error;
    return { added: [], existing: [...existing, ...added] };
  }
  return { added, existing };
}
