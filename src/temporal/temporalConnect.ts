/**
 * Vigil's two Temporal connections, from the settings temporalConnection.ts reads: the client
 * (`Connection`, grpc-js) and the worker (`NativeConnection`, Core) get address, TLS, API key and
 * metadata from one function.
 */
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { TemporalConnectionSettings } from './temporalConnection.ts';

/** The one place address, TLS, API key and metadata become connection options, for both connections. */
function connectionOptionsOf(settings: TemporalConnectionSettings): ConnectionOptions & NativeConnectionOptions {
  return {
    address: settings.address,
    tls: settings.tls,
    apiKey: settings.apiKey ?? undefined,
    metadata: { ...settings.metadata },
  };
}

/** The client connection (starting and querying workflows); the caller's `Client` takes `settings.namespace`. */
export function connectClient(settings: TemporalConnectionSettings, extra: Pick<ConnectionOptions, 'connectTimeout'> = {}): Promise<Connection> {
  return Connection.connect({ ...connectionOptionsOf(settings), ...extra });
}

/** The worker's connection (Core); the caller's `Worker` takes `settings.namespace`. */
export function connectNative(settings: TemporalConnectionSettings): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptionsOf(settings));
}
