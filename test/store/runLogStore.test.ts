/** Paging a run log by bytes never splits a character, and always moves forward (a limit shorter than a character still returns that character). */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RunLogStore, completeUtf8Length } from '../../src/store/runLogStore.ts';

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

describe('run log slices', () => {
  it('end on a character boundary, so every byte limit pages back to the exact text', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'vigil-log-'));
    roots.push(root);
    const store = new RunLogStore(root);
    await store.append('c/r.ndjson', [{ ts: new Date(0), stream: 'stdout', chunk: 'héllo → wörld 🚀 done' }]);
    const whole = (await store.read('c/r.ndjson', 0, 1 << 20))!.content;
    for (const limit of [1, 2, 3, 5, 7]) {
      let offset: number | null = 0;
      const parts: string[] = [];
      while (offset !== null) {
        const slice: { content: string; nextOffset: number | null } = (await store.read('c/r.ndjson', offset, limit))!;
        expect(slice.content).not.toContain('\ufffd');
        parts.push(slice.content);
        offset = slice.nextOffset;
      }
      expect(parts.join('')).toBe(whole);
    }
  });

  it('keeps whole characters and leaves a cut-short one for the next slice', () => {
    const rocket = Buffer.from('🚀');
    expect(completeUtf8Length(Buffer.from('ab'))).toBe(2);
    expect(completeUtf8Length(Buffer.concat([Buffer.from('a'), rocket]))).toBe(5);
    expect(completeUtf8Length(Buffer.concat([Buffer.from('a'), rocket.subarray(0, 3)]))).toBe(1);
    expect(completeUtf8Length(rocket.subarray(0, 2))).toBe(0);
  });
});
