/**
 * A Server-Sent Events client for tests: Node's fetch with a streaming body reader and a parser
 * that follows the WHATWG rules (fields, multi-line data, comments, CR/LF/CRLF line ends).
 */
export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
  /** When the message's last line arrived (performance.now()). */
  receivedAt: number;
}

export class SseParser {
  private buffer = '';
  private id: string | null = null;
  private event = '';
  private data: string[] = [];
  private sawCr = false;
  /**
   * The id of the last event dispatched, as EventSource keeps it for Last-Event-ID: set when the
   * event's blank line arrives, not at its `id:` line (a stream cut inside a frame must not
   * resume after an event the board never got).
   */
  lastEventId: string | null = null;
  retryMs: number | null = null;
  comments = 0;

  constructor(private readonly onMessage: (message: SseMessage) => void) {}

  push(text: string): void {
    for (const char of text) {
      if (this.sawCr && char === '\n') {
        this.sawCr = false;
        continue;
      }
      this.sawCr = char === '\r';
      if (char === '\r' || char === '\n') {
        this.line(this.buffer);
        this.buffer = '';
      } else {
        this.buffer += char;
      }
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.id !== null) this.lastEventId = this.id;
      if (this.data.length > 0 || this.event !== '') {
        this.onMessage({ id: this.id, event: this.event || 'message', data: this.data.join('\n'), receivedAt: performance.now() });
      }
      this.id = null;
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) {
      this.comments += 1;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
  }
}

export interface SseConnection {
  status: number;
  headers: Headers;
  messages: SseMessage[];
  parser: SseParser;
  /** Resolves when the server ends the stream (or it errors / is closed). */
  ended: Promise<void>;
  /** The first message that matches, waiting for it. */
  waitFor(match: (message: SseMessage) => boolean, timeoutMs?: number, what?: string): Promise<SseMessage>;
  /** Waits until `count` messages match. */
  waitForCount(match: (message: SseMessage) => boolean, count: number, timeoutMs?: number, what?: string): Promise<SseMessage[]>;
  close(): void;
}

export async function connectSse(url: string, options: { token?: string | null; lastEventId?: string | number | null } = {}): Promise<SseConnection> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.lastEventId !== undefined && options.lastEventId !== null) headers['last-event-id'] = String(options.lastEventId);
  const response = await fetch(url, { headers, signal: controller.signal });
  const messages: SseMessage[] = [];
  const waiters = new Set<() => void>();
  const parser = new SseParser((message) => {
    messages.push(message);
    for (const wake of [...waiters]) wake();
  });
  let ended: Promise<void> = Promise.resolve();
  if (response.body && response.ok) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    ended = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.push(decoder.decode(value, { stream: true }));
        }
      } catch {
        // aborted or reset: the stream is over
      } finally {
        for (const wake of [...waiters]) wake();
      }
    })();
  } else {
    await response.body?.cancel();
  }
  let over = false;
  void ended.then(() => (over = true));

  async function waitForCount(match: (message: SseMessage) => boolean, count: number, timeoutMs = 20_000, what = 'SSE messages') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.filter(match);
      if (found.length >= count) return found;
      if (over) throw new Error(`The stream ended while waiting for ${what} (${found.length}/${count})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (${found.length}/${count})`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 250));
        waiters.add(wake);
      });
    }
  }

  return {
    status: response.status,
    headers: response.headers,
    messages,
    parser,
    ended,
    waitFor: async (match, timeoutMs, what) => (await waitForCount(match, 1, timeoutMs, what))[0],
    waitForCount,
    close: () => controller.abort(),
  };
}
