/**
 * One board's stream, without a network: what it sends, in which order, and when it gives up on
 * a board that stopped reading.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CompanyEventStream, DEFAULT_STREAM_SETTINGS, type SseResponse } from '../../src/live/companyEventStream.ts';
import { liveEventFrame } from '../../src/live/sseFrames.ts';
import type { LiveEvent } from '../../src/live/liveEventTypes.ts';
import { createLogger } from '../../src/logger.ts';

/** A response whose socket never takes anything: every byte written stays buffered. */
class StuckResponse extends EventEmitter implements SseResponse {
  written = '';
  destroyed = false;
  ended = false;
  get writableLength() {
    return Buffer.byteLength(this.written);
  }
  get writableNeedDrain() {
    return this.writableLength > 16 * 1024;
  }
  writeHead() {
    return this;
  }
  flushHeaders() {}
  write(chunk: string) {
    this.written += chunk;
    return !this.writableNeedDrain;
  }
  end() {
    this.ended = true;
    this.emit('close');
  }
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
}

const logger = createLogger('error');
const event = (id: number, chunk = 'x'): LiveEvent => ({ id, companyId: 'c', type: 'heartbeat.run.log', payload: { runId: 'r', chunk } });
const sentIds = (res: StuckResponse) => [...res.written.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));

function openStream(res: StuckResponse, lastSentId: number, holdLive: boolean, maxBufferedBytes = DEFAULT_STREAM_SETTINGS.maxBufferedBytes) {
  const stream = new CompanyEventStream(res, { ...DEFAULT_STREAM_SETTINGS, maxBufferedBytes }, lastSentId, holdLive, logger);
  let unsubscribed = false;
  stream.attach(() => (unsubscribed = true));
  return { stream, isUnsubscribed: () => unsubscribed };
}

describe('a company event stream', () => {
  it('writes each event as id, event and one line of JSON data', () => {
    const frame = liveEventFrame({ id: 7, companyId: 'c', type: 'heartbeat.run.log', payload: { chunk: 'two\nlines\r\n' } });
    expect(frame).toBe('id: 7\nevent: heartbeat.run.log\ndata: {"chunk":"two\\nlines\\r\\n"}\n\n');
  });

  it('redacts run errors and event messages on the way out', () => {
    const status = liveEventFrame({ id: 1, companyId: 'c', type: 'heartbeat.run.status', payload: { error: 'failed with Authorization: Bearer abcdefghijklmnop123456' } });
    expect(status).not.toContain('abcdefghijklmnop123456');
    const runEvent = liveEventFrame({ id: 2, companyId: 'c', type: 'heartbeat.run.event', payload: { message: 'token=vgr_abcdefgh12345678.sig', payload: { apiKey: 'sk-abcdefghijklmnopqrstuv' } } });
    expect(runEvent).not.toContain('vgr_abcdefgh12345678');
    expect(runEvent).not.toContain('sk-abcdefghijklmnopqrstuv');
  });

  it('never sends an id at or below the last one it sent', () => {
    const res = new StuckResponse();
    const { stream } = openStream(res, 10, false);
    for (const id of [9, 10, 11, 11, 12]) stream.deliver(event(id), liveEventFrame(event(id)));
    expect(sentIds(res)).toEqual([11, 12]);
  });

  it('holds live events during a replay and sends them after it, in order, without repeats', () => {
    const res = new StuckResponse();
    const { stream } = openStream(res, 3, true);
    stream.deliver(event(8), liveEventFrame(event(8)));
    stream.sendReplayed(event(4));
    stream.deliver(event(9), liveEventFrame(event(9)));
    stream.sendReplayed(event(6));
    expect(sentIds(res)).toEqual([4, 6]);
    stream.releaseHeld();
    stream.deliver(event(10), liveEventFrame(event(10)));
    expect(sentIds(res)).toEqual([4, 6, 8, 9, 10]);
  });

  it('drops a board that stopped reading once its unsent bytes pass the bound, and unsubscribes it', () => {
    const res = new StuckResponse();
    const { stream, isUnsubscribed } = openStream(res, 0, false, 64 * 1024);
    const chunk = 'y'.repeat(8 * 1024);
    let id = 0;
    while (!stream.closed && id < 100) stream.deliver(event(++id, chunk), liveEventFrame(event(id, chunk)));
    expect(stream.closed).toBe(true);
    expect(res.destroyed).toBe(true);
    expect(isUnsubscribed()).toBe(true);
    expect(id).toBeLessThan(10);
    expect(stream.dropReason).toMatch(/stopped reading/);
    const before = res.written.length;
    stream.deliver(event(++id), liveEventFrame(event(id)));
    expect(res.written.length).toBe(before);
  });

  it('drops a board whose held live events pile up during a long replay', () => {
    const res = new StuckResponse();
    const { stream } = openStream(res, 0, true, 32 * 1024);
    const chunk = 'z'.repeat(8 * 1024);
    for (let id = 100; id < 110 && !stream.closed; id++) stream.deliver(event(id, chunk), liveEventFrame(event(id, chunk)));
    expect(stream.closed).toBe(true);
    expect(stream.dropReason).toMatch(/replay/);
  });

  it('unsubscribes when the board disconnects', () => {
    const res = new StuckResponse();
    const { stream, isUnsubscribed } = openStream(res, 0, false);
    res.emit('close');
    expect(stream.closed).toBe(true);
    expect(isUnsubscribed()).toBe(true);
  });
});
