/**
 * Ports for servers that cannot bind port 0: different for every caller on the machine, free when
 * handed out, and never from the range the OS draws outgoing connections' source ports from.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { findFreePorts } from '../../src/platform/freePorts.ts';

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });

describe('findFreePorts', () => {
  it('hands concurrent callers disjoint sets of ports that are free, below the ephemeral range', async () => {
    const asks = await Promise.all(Array.from({ length: 6 }, () => findFreePorts(20)));
    const all = asks.flat();
    expect(new Set(all).size).toBe(120);
    for (const port of all) expect(port).toBeGreaterThanOrEqual(20_000);
    for (const port of all) expect(port).toBeLessThan(32_768);
    expect(await Promise.all(all.map(bindable))).toEqual(all.map(() => true));
  });

  it('does not hand out a port again while its reservation lasts', async () => {
    const first = await findFreePorts(30);
    const second = await findFreePorts(30);
    expect(second.filter((port) => first.includes(port))).toEqual([]);
  });
});
