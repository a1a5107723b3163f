/**
 * Soak: a few thousand live events written by several writers in two OS processes, with the
 * interleavings that make ids commit out of order (transactions open across several events,
 * transaction ids taken early, rollbacks), followed by boards on two API processes — the test's
 * own Vigil and one in a process of its own. Each board's received ids must be exactly the
 * committed set: none missing, none twice. A board on each API drops its connection halfway and
 * resumes with Last-Event-ID, so the replay path is soaked too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { startVigilProcess, type VigilProcess } from '../support/vigilProcess.ts';
import { connectSse, type SseConnection } from '../support/sseClient.ts';
import { eventually, givenCompany, type CompanyFixture } from '../support/fixtures.ts';

const WRITER_PROCESSES = 2;
const CONNECTIONS_PER_WRITER = 4;
const EVENTS_PER_CONNECTION = 400; // 3,200 committed events
const BOARDS_PER_API = 3;

let own: TestVigil;
let other: VigilProcess;
const children: ChildProcess[] = [];
const streams: SseConnection[] = [];

beforeAll(async () => {
  [own, other] = await Promise.all([startTestVigil(), startVigilProcess({ label: 'vigil-soak-api' })]);
});

afterAll(async () => {
  for (const stream of streams) stream.close();
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  await own?.stop();
  await other?.stop();
});

/** One board: its connections in order (a resumed board has two) and the ids they received. */
class Board {
  readonly connections: SseConnection[] = [];
  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly token: string,
  ) {}

  async connect(lastEventId?: string | null): Promise<void> {
    const connection = await connectSse(this.url, { token: this.token, lastEventId });
    streams.push(connection);
    expect(connection.status, this.name).toBe(200);
    this.connections.push(connection);
  }

  get current(): SseConnection {
    return this.connections.at(-1)!;
  }

  /** Every numbered event, over all of its connections, in arrival order. */
  receivedIds(): number[] {
    return this.connections.flatMap((connection) => connection.messages.filter((m) => m.id !== null).map((m) => Number(m.id)));
  }

  async resume(): Promise<void> {
    const lastEventId = this.current.parser.lastEventId;
    this.current.close();
    await this.current.ended;
    await this.connect(lastEventId);
  }
}

function startWriters(fixture: CompanyFixture, seed: number): Promise<number> {
  const script = fileURLToPath(new URL('../support/liveEventWriter.ts', import.meta.url));
  const options = { databaseUrl: inject('databaseUrl'), companyId: fixture.company.id, connections: CONNECTIONS_PER_WRITER, events: EVENTS_PER_CONNECTION, seed };
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const committed = /COMMITTED (\d+)/.exec(output)?.[1];
      if (code === 0 && committed) resolve(Number(committed));
      else reject(new Error(`writer process exited with ${code}: ${output}`));
    });
  });
}

describe('live events under concurrent writers in two processes', () => {
  it('gives every board on either API process exactly the committed events: none missing, none twice, whatever the commit order', async () => {
    const acme = await givenCompany(own.admin);
    const boards: Board[] = [];
    for (const [api, apiUrl] of [['own', own.apiUrl], ['other', other.apiUrl]] as const) {
      for (let i = 0; i < BOARDS_PER_API; i++) {
        const board = new Board(`${api} API board ${i}`, `${apiUrl}/api/companies/${acme.company.id}/events`, acme.boardKey);
        await board.connect();
        boards.push(board);
      }
    }

    const writing = Promise.all(Array.from({ length: WRITER_PROCESSES }, (_, i) => startWriters(acme, i + 1)));
    // Halfway through, one board on each API drops its connection and resumes with Last-Event-ID.
    const resumed = [boards[0], boards[BOARDS_PER_API]];
    const half = (WRITER_PROCESSES * CONNECTIONS_PER_WRITER * EVENTS_PER_CONNECTION) / 2;
    await Promise.all(resumed.map(async (board) => {
      await board.current.waitForCount((m) => m.event === 'activity.logged', half, 120_000, `${board.name}: half the events`);
      await board.resume();
    }));
    const committed = (await writing).reduce((sum, n) => sum + n, 0);
    expect(committed).toBe(WRITER_PROCESSES * CONNECTIONS_PER_WRITER * EVENTS_PER_CONNECTION);

    const rows = await own.vigil.prisma.liveEvent.findMany({ where: { companyId: acme.company.id }, select: { id: true }, orderBy: { id: 'asc' } });
    const expected = rows.map((row) => Number(row.id));
    expect(expected).toHaveLength(committed);
    const last = expected.at(-1)!;
    for (const board of boards) {
      await eventually(async () => board.receivedIds().includes(last), 120_000, `${board.name} to receive the last committed event`);
    }

    for (const board of boards) {
      const received = board.receivedIds();
      const missing = expected.filter((id) => !received.includes(id));
      const twice = received.filter((id, index) => received.indexOf(id) !== index);
      expect({ board: board.name, missing, twice }).toEqual({ board: board.name, missing: [], twice: [] });
      expect(received, board.name).toEqual(expected); // in id order, nothing else
    }
    for (const board of resumed) expect(board.connections).toHaveLength(2);
  });
});
