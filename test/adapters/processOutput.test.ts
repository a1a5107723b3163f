import { afterEach, describe, expect, it, vi } from 'vitest';
import { redactSecrets } from '../../src/domain/redaction.ts';
import {
  buildAdapterResult,
  EXCERPT_MAX_BYTES,
  mentionsTransientUpstream,
  parseResultLine,
  RedactingLineBuffer,
  StdoutResultTracker,
  tailUtf8,
  TextTail,
  type ProcessOutcomeFacts,
} from '../../src/adapters/processOutput.ts';

function lineBuffer(options: ConstructorParameters<typeof RedactingLineBuffer>[2] = {}) {
  const emitted: string[] = [];
  const buffer = new RedactingLineBuffer((text) => redactSecrets(text, ['s3cr3t-value']), (text) => emitted.push(text), options);
  return { buffer, emitted };
}

function facts(overrides: Partial<ProcessOutcomeFacts> = {}, stdoutText = '', stderrText = ''): ProcessOutcomeFacts {
  const stdout = new TextTail(EXCERPT_MAX_BYTES);
  const stderr = new TextTail(EXCERPT_MAX_BYTES);
  const results = new StdoutResultTracker();
  stdout.append(stdoutText);
  results.push(stdoutText);
  results.end();
  stderr.append(stderrText);
  const now = new Date();
  return {
    pid: 100,
    processGroupId: 100,
    exitCode: 0,
    signal: null,
    killReason: null,
    timedOut: false,
    cancelled: false,
    timeoutSec: 0,
    graceSec: 20,
    killEscalated: false,
    descendantsKilled: false,
    processGroupSurvived: false,
    outputStreamsForceClosed: false,
    startFailure: null,
    stdout,
    stderr,
    results,
    secrets: [],
    startedAt: now,
    finishedAt: now,
    ...overrides,
  };
}

describe('tailUtf8 and TextTail', () => {
  it('cuts on a character boundary', () => {
    expect(tailUtf8('a€€', 4)).toBe('€');
    expect(tailUtf8('a€€', 7)).toBe('a€€');
    expect(tailUtf8('abc', 2)).toBe('bc');
  });

  it('keeps only the end of a growing text', () => {
    const tail = new TextTail(10);
    for (let i = 0; i < 1000; i++) tail.append('0123456789');
    tail.append('END');
    expect(tail.text()).toBe('3456789END');
    expect(tail.truncated).toBe(true);
  });
});

describe('RedactingLineBuffer', () => {
  afterEach(() => vi.useRealTimers());

  it('redacts a secret split across two reads', () => {
    const { buffer, emitted } = lineBuffer();
    buffer.push('Authorization: Bearer vgr_123e4567-e89b');
    buffer.push('-12d3.sig\nnext s3cr3t-');
    buffer.push('value\n');
    expect(emitted.join('')).toBe('Authorization: Bearer [REDACTED]\nnext [REDACTED]\n');
  });

  it('shows a partial line after a short silence, but holds its last word longer', () => {
    vi.useFakeTimers();
    const { buffer, emitted } = lineBuffer({ idleFlushMs: 50, trailingWordFlushMs: 1000 });
    buffer.push('Password? s3cr3t-');
    vi.advanceTimersByTime(60);
    expect(emitted).toEqual(['Password? ']);
    buffer.push('value and more');
    vi.advanceTimersByTime(60);
    expect(emitted).toEqual(['Password? ', '[REDACTED] and ']);
    vi.advanceTimersByTime(1000);
    expect(emitted).toEqual(['Password? ', '[REDACTED] and ', 'more']);
  });

  it('cuts an endless line at whitespace so memory stays bounded', () => {
    const { buffer, emitted } = lineBuffer({ maxPendingChars: 100 });
    for (let i = 0; i < 100; i++) buffer.push('word '.repeat(10));
    buffer.flush();
    expect(emitted.join('')).toBe('word '.repeat(1000));
    expect(Math.max(...emitted.map((text) => text.length))).toBeLessThanOrEqual(100);
  });
});

describe('result line and summary', () => {
  it('parses only JSON objects with "type": "result"', () => {
    expect(parseResultLine('{"type":"result","summary":"ok"}')).toEqual({ type: 'result', summary: 'ok' });
    expect(parseResultLine('  {"type":"result"}\r')).toEqual({ type: 'result' });
    expect(parseResultLine('{"type":"assistant","text":"result"}')).toBeNull();
    expect(parseResultLine('["result"]')).toBeNull();
    expect(parseResultLine('{"type":"result",')).toBeNull();
    expect(parseResultLine('the result is good')).toBeNull();
  });

  it('takes the last result line, and keeps result lines out of the fallback text', () => {
    const tracker = new StdoutResultTracker();
    tracker.push('{"type":"result","summary":"first"}\nprogress\n{"type":"res');
    tracker.push('ult","summary":"second"}\ntrailing words');
    tracker.end();
    expect(tracker.resultLine).toEqual({ type: 'result', summary: 'second' });
    expect(tracker.fallbackSummary()).toBe('progress\ntrailing words');
  });

  it('does not parse a result line longer than the cap', () => {
    const tracker = new StdoutResultTracker();
    tracker.push(`{"type":"result","summary":"${'x'.repeat(300_000)}"}\n`);
    tracker.end();
    expect(tracker.resultLine).toBeNull();
    expect(Buffer.byteLength(tracker.fallbackSummary() ?? '')).toBeLessThanOrEqual(4096);
  });
});

describe('transient upstream detection', () => {
  it.each([
    'Error: upstream model is overloaded (HTTP 503)',
    'We are experiencing high demand, try later',
    'API Error: 429 {"type":"error","error":{"type":"rate_limit_error"}}',
    'you have been rate-limited',
    'Rate limit reached for gpt-4',
    '{"type":"overloaded_error"}',
    'HTTP/1.1 502 Bad Gateway',
    'status: 503',
    'RESOURCE_EXHAUSTED: quota',
    '429 Too Many Requests',
  ])('recognises %s', (text) => {
    expect(mentionsTransientUpstream(text)).toBe(true);
  });

  it.each(['processed 429 files', 'fixed issue #503', 'tests failed: 2', 'exit code 1', 'the demand is high'])(
    'ignores %s',
    (text) => {
      expect(mentionsTransientUpstream(text)).toBe(false);
    },
  );
});

describe('buildAdapterResult', () => {
  it('a success is a success even with an errorCode or an overloaded word in the output', () => {
    const result = buildAdapterResult(
      facts({}, 'retried after overloaded\n{"type":"result","summary":"done","errorCode":"x","errorFamily":"transient_upstream"}\n'),
    );
    expect(result).toMatchObject({ errorMessage: null, errorCode: null, errorFamily: null, summary: 'done', retryNotBefore: null });
    expect(result.resultJson).toMatchObject({ errorCode: 'x', errorFamily: 'transient_upstream' });
  });

  it('prefers the result line error text over stderr', () => {
    const result = buildAdapterResult(
      facts({ exitCode: 4 }, '{"type":"result","errorMessage":"auth required","errorCode":"gemini_auth_required"}\n', 'noise\n'),
    );
    expect(result).toMatchObject({ errorMessage: 'Process exited with code 4: auth required', errorCode: 'gemini_auth_required' });
  });

  it('a signal nobody sent is process lost; a signal we sent is not', () => {
    expect(buildAdapterResult(facts({ exitCode: null, signal: 'SIGSEGV' }))).toMatchObject({
      processLost: true,
      errorCode: 'process_lost',
      errorMessage: 'Process lost -- child pid 100 was killed by SIGSEGV',
    });
    expect(
      buildAdapterResult(facts({ exitCode: null, signal: 'SIGTERM', killReason: 'timeout', timedOut: true, timeoutSec: 5 })),
    ).toMatchObject({ processLost: false, timedOut: true, errorMessage: 'Timed out after 5s', errorCode: null });
  });

  it('drops the values of secret-named keys of the result line', () => {
    const result = buildAdapterResult(facts({}, '{"type":"result","summary":"ok","apiKey":"abc","usage":{"input_tokens":3}}\n'));
    expect(result.resultJson).toMatchObject({ apiKey: '[REDACTED]', usage: { input_tokens: 3 } });
  });
});
