/**
 * TLS endpoints in front of the test run's plain Temporal dev server, on 127.0.0.1:<free port>:
 * - `startMtlsProxy`: TLS terminated, a client certificate of the test CA required, bytes piped to
 *   the dev server — what an mTLS cluster looks like to a client.
 * - `startRecordingGrpcProxy`: TLS terminated, each gRPC call's request headers recorded, then the
 *   call forwarded over h2c to the dev server — so a test can see the metadata a client really
 *   sends (e.g. `authorization: Bearer <API key>`) and still get real answers.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';

export interface TlsEndpoint {
  address: string;
  /** Handshakes the endpoint refused, with the reason, for assertions. */
  refusedHandshakes: string[];
  close(): Promise<void>;
}

export interface RecordingEndpoint extends TlsEndpoint {
  /** Request headers of every call, in order (pseudo-headers included). */
  requests: http2.IncomingHttpHeaders[];
}

function addressOf(server: net.Server): string {
  const { port } = server.address() as net.AddressInfo;
  return `127.0.0.1:${port}`;
}

function listen(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}

export async function startMtlsProxy(options: { upstream: string; key: Buffer; cert: Buffer; ca: Buffer }): Promise<TlsEndpoint> {
  const [host, port] = options.upstream.split(':');
  const sockets = new Set<net.Socket>();
  const refusedHandshakes: string[] = [];
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = tls.createServer(
    { key: options.key, cert: options.cert, ca: options.ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
    (client) => {
      const upstream = net.connect(Number(port), host);
      track(client);
      track(upstream);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    },
  );
  server.on('tlsClientError', (error) => refusedHandshakes.push(error.message));
  server.on('connection', track);
  await listen(server);
  return {
    address: addressOf(server),
    refusedHandshakes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const HOP_HEADERS = new Set([':scheme', ':authority', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);

function forwardable(headers: http2.IncomingHttpHeaders, keepStatus: boolean): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (HOP_HEADERS.has(name)) continue;
    if (name.startsWith(':') && !(name === ':method' || name === ':path' || (keepStatus && name === ':status'))) continue;
    out[name] = value;
  }
  return out;
}

export async function startRecordingGrpcProxy(options: { upstream: string; key: Buffer; cert: Buffer }): Promise<RecordingEndpoint> {
  const requests: http2.IncomingHttpHeaders[] = [];
  const refusedHandshakes: string[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const upstream = http2.connect(`http://${options.upstream}`);
  upstream.on('error', () => {});
  const server = http2.createSecureServer({ key: options.key, cert: options.cert, allowHTTP1: false });
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  server.on('tlsClientError', (error) => refusedHandshakes.push(error.message));
  server.on('stream', (stream, headers) => {
    requests.push({ ...headers });
    stream.on('error', () => {});
    const call = upstream.request(forwardable(headers, false));
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('close', () => {
      if (!call.closed) call.close(http2.constants.NGHTTP2_CANCEL);
    });
    let trailers: http2.OutgoingHttpHeaders = {};
    call.on('trailers', (received) => {
      trailers = forwardable(received, false);
    });
    call.on('response', (response, flags) => {
      if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) {
        // A gRPC "trailers-only" answer: one header block that ends the call.
        stream.respond(forwardable(response, true), { endStream: true });
        return;
      }
      stream.respond(forwardable(response, true), { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      call.pipe(stream);
    });
    stream.pipe(call);
  });
  await listen(server);
  return {
    address: addressOf(server),
    requests,
    refusedHandshakes,
    close: async () => {
      for (const session of sessions) session.destroy();
      upstream.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
