/**
 * The one way Vigil and its tests pick ports for servers that cannot bind port 0 and report it
 * (PostgreSQL, the Temporal dev server, the worker's metrics endpoint).
 *
 * A port the OS hands out for port 0 comes from the ephemeral range, the same range it draws the
 * source ports of outgoing connections from, and nothing holds it between our close and the
 * server's bind: another process's port-0 ask or a client connection can take it in between (the
 * test suite saw both: two asks returning one port, a PostgreSQL that could not bind). So ports
 * are drawn at random from below the ephemeral range, checked by binding them, and reserved for a
 * couple of minutes with a file created exclusively in a folder every Vigil process on the machine
 * shares: concurrent callers — two test files, two `npm start`s — never get the same port.
 */
import { randomInt } from 'node:crypto';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Below Linux's default ephemeral range (32768–60999), above the usual service ports. */
const PORT_RANGE = { from: 20_000, to: 32_000 } as const;
/** How long a handed-out port stays reserved: long enough for its server to bind it. */
const RESERVATION_MS = 2 * 60_000;
const MAX_ATTEMPTS = 2_000;

function reservationsDir(): string {
  return path.join(os.tmpdir(), 'vigil-port-reservations');
}

/** Creates the port's reservation file, unless a live one exists; stale ones are taken over. */
async function reserve(port: number): Promise<boolean> {
  const file = path.join(reservationsDir(), String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await (await open(file, 'wx')).close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(file).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (age < RESERVATION_MS) return false;
      await unlink(file).catch(() => undefined);
    }
  }
  return false;
}

/** Listens on the port (so it is free right now, and stays ours until released), or null. */
function hold(port: number): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(null));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
}

/** `count` different ports on 127.0.0.1, free now and reserved for this caller for two minutes. */
export async function findFreePorts(count: number): Promise<number[]> {
  await mkdir(reservationsDir(), { recursive: true });
  const held: net.Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error(`No ${count} free ports found in ${PORT_RANGE.from}-${PORT_RANGE.to}`);
      const port = randomInt(PORT_RANGE.from, PORT_RANGE.to);
      if (ports.includes(port) || !(await reserve(port))) continue;
      const server = await hold(port);
      if (!server) continue; // in use by something else; its reservation just lapses
      held.push(server);
      ports.push(port);
    }
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
  return ports;
}
