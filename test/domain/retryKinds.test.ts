/**
 * The values of the `VigilRetryKind` search attribute, as the docs give them, are the values
 * recovery writes (RETRY_KINDS): in temporal-dev.yml, in searchAttributeKeys.ts and in every
 * README query and list. (temporalInspection.test.ts runs the README's queries themselves.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RETRY_KINDS } from '../../src/domain/recoveryKinds.ts';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

describe('VigilRetryKind in the docs', () => {
  it('is listed in temporal-dev.yml with exactly the kinds recovery writes', () => {
    const text = read('temporal-dev.yml');
    expect(parse(text).searchAttributes.VigilRetryKind).toBe('Keyword');
    const comment = /^\s*VigilRetryKind:\s*Keyword\s*#\s*why it exists:\s*(.+)$/m.exec(text)?.[1];
    expect(comment?.split(',').map((kind) => kind.trim())).toEqual([...RETRY_KINDS]);
  });

  it('is described in searchAttributeKeys.ts with the same kinds', () => {
    const text = read('src/temporal/searchAttributeKeys.ts');
    const doc = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export const VigilRetryKind/.exec(text)?.[1] ?? '';
    for (const kind of RETRY_KINDS) expect(doc).toContain(kind);
    expect(doc).not.toMatch(/process_loss_retry|overload_retry/);
  });

  it('takes only real values in the README, which names every one of them', () => {
    const readme = read('README.md');
    const queried = [...readme.matchAll(/VigilRetryKind='([^']*)'/g)].map((match) => match[1]);
    expect(queried.length).toBeGreaterThan(0);
    for (const kind of queried) expect(RETRY_KINDS, `README queries VigilRetryKind='${kind}'`).toContain(kind);
    expect(queried).toContain('process_lost');
    for (const kind of RETRY_KINDS) expect(readme).toContain(`\`${kind}\``);
  });
});
