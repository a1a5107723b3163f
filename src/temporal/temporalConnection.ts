/**
 * Where Vigil's Temporal connection settings come from, and how its two connections open.
 *
 * Settings are Temporal's own environment configuration (`@temporalio/envconfig`), read as the
 * Temporal CLI and SDKs read them: a profile of a TOML file (TEMPORAL_CONFIG_FILE, else
 * `<user config dir>/temporalio/temporal.toml`; TEMPORAL_PROFILE, else `default`), with the
 * TEMPORAL_* variables on top. No address anywhere → null: Vigil starts its own dev server.
 *
 * Certificates and keys are read and checked here, once, so a wrong path or a key that does not
 * match its certificate stops Vigil at start-up with the variable (or TOML key) named, instead of
 * a TLS failure deep inside a worker. Opening the connections is temporalConnect.ts's, so that
 * reading the configuration (src/config.ts, every script) loads neither gRPC stack.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import type { TLSConfig } from '@temporalio/worker';
import {
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ClientConfigTLS,
  type ConfigDataSource,
} from '@temporalio/envconfig';

export interface TemporalConnectionSettings {
  /** Frontend `host:port`. */
  readonly address: string;
  readonly namespace: string;
  /** false: plaintext. An object: TLS (empty = the system's CAs, no client certificate). */
  readonly tls: false | TLSConfig;
  /** Sent as `Authorization: Bearer <key>` on every call; it turns TLS on unless TLS is explicitly off. */
  readonly apiKey: string | null;
  /** gRPC metadata (headers) sent with every call; keys normalised as the Temporal CLI does. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Where the settings came from (variable names, profile and file; never values). */
  readonly origin: string;
}

/** Every sentence this module writes for an operator, in one place. */
const texts = {
  badBoolean: (variable: string, value: string) => `${variable} must be true, false, 1 or 0, got "${value}"`,
  hostVerificationUnsupported:
    'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported by the TypeScript SDK Vigil uses: give the server CA (TEMPORAL_TLS_SERVER_CA_CERT_PATH) and, if the certificate names another host, TEMPORAL_TLS_SERVER_NAME',
  configFileMissing: (file: string) => `TEMPORAL_CONFIG_FILE names ${file}, which does not exist`,
  configFileUnreadable: (file: string, reason: string) => `Temporal config file ${file} cannot be read: ${reason}`,
  configFileInvalid: (file: string, reason: string) => `Temporal config file ${file} is invalid: ${reason}`,
  profileNotFound: (profile: string, file: string | null) =>
    file === null
      ? `TEMPORAL_PROFILE is "${profile}" but there is no Temporal config file (set TEMPORAL_CONFIG_FILE)`
      : `TEMPORAL_PROFILE is "${profile}" but ${file} has no [profile.${profile}]`,
  remoteSettingWithoutAddress: (what: string) =>
    `${what} is set but no Temporal address is (TEMPORAL_ADDRESS or a profile's address): Vigil would start its own dev server and ignore it`,
  unreadable: (origin: string, file: string, reason: string) => `${origin}: cannot read ${file} (${reason})`,
  notACertificate: (origin: string) => `${origin}: not a PEM certificate`,
  notAPrivateKey: (origin: string) => `${origin}: not a PEM private key`,
  halfAPair: (present: string, missing: string) => `${present} is set but there is ${missing}: mTLS needs both`,
  pairMismatch: (cert: string, key: string) => `the client certificate (${cert}) and key (${key}) do not belong together`,
  authorizationTwice: 'both an API key and an "authorization" gRPC metadata header are set: keep one',
} as const;

/** Temporal's environment configuration (TEMPORAL_PORT, TEMPORAL_CLI_PATH, ... are Vigil's own). */
const CONNECTION_VARIABLES = new Set([
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_PROFILE',
]);
const BOOLEAN_VARIABLES = ['TEMPORAL_TLS', 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION'];
const GRPC_META_PREFIX = 'TEMPORAL_GRPC_META_';

/**
 * The TEMPORAL_* variables as the Temporal CLI (Go envconfig) reads them, handed to the TS
 * envconfig, which differs where it would surprise an operator: an empty value is unset (as for
 * every Vigil variable; the TS package would let `TEMPORAL_TLS=` turn TLS off and an empty API key
 * turn it on), and booleans are 1/0/true/false in any case (TS: anything but "1"/"true" is false).
 * TEMPORAL_GRPC_META_* keep their values untouched: there, empty means "remove this header".
 * TEMPORAL_CODEC_* are left out: Vigil has no payload codec.
 */
function temporalVariablesOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    if (name.startsWith(GRPC_META_PREFIX)) {
      variables[name] = raw;
      continue;
    }
    if (!CONNECTION_VARIABLES.has(name)) continue;
    const value = raw.trim();
    if (value === '') continue;
    if (BOOLEAN_VARIABLES.includes(name)) {
      const lower = value.toLowerCase();
      if (!['1', '0', 'true', 'false'].includes(lower)) throw new Error(texts.badBoolean(name, raw));
      variables[name] = lower;
    } else {
      variables[name] = value;
    }
  }
  const skipHostVerification = variables.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION;
  if (skipHostVerification === '1' || skipHostVerification === 'true') throw new Error(texts.hostVerificationUnsupported);
  delete variables.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION;
  return variables;
}

/** Go's `os.UserConfigDir()`, which the CLI and every SDK use for the default file. */
function defaultConfigFile(env: NodeJS.ProcessEnv): string | null {
  const home = env.HOME;
  switch (os.platform()) {
    case 'win32':
      return env.APPDATA ? path.join(env.APPDATA, 'temporalio', 'temporal.toml') : null;
    case 'darwin':
      return home ? path.join(home, 'Library', 'Application Support', 'temporalio', 'temporal.toml') : null;
    default: {
      const xdg = env.XDG_CONFIG_HOME;
      if (xdg) return path.isAbsolute(xdg) ? path.join(xdg, 'temporalio', 'temporal.toml') : null;
      return home ? path.join(home, '.config', 'temporalio', 'temporal.toml') : null;
    }
  }
}

interface ConfigFile {
  path: string;
  text: string;
}

/**
 * The TOML file, read here rather than by envconfig so its errors name it. A missing default file
 * is normal; a missing TEMPORAL_CONFIG_FILE is a mistake (the CLI would silently ignore it, and
 * Vigil would then start a dev server instead of reaching the cluster meant).
 */
function configFileOf(variables: Record<string, string>, env: NodeJS.ProcessEnv): ConfigFile | null {
  const explicit = variables.TEMPORAL_CONFIG_FILE ?? null;
  const file = explicit ?? defaultConfigFile(env);
  if (file === null) return null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      if (explicit !== null) throw new Error(texts.configFileMissing(file));
      return null;
    }
    throw new Error(texts.configFileUnreadable(file, code ?? String(error)));
  }
  return text.trim() === '' ? null : { path: file, text };
}

/** The profile, env variables applied; `fromFile` when the file really had it. */
function profileOf(variables: Record<string, string>, file: ConfigFile | null): { profile: ClientConfigProfile; fromFile: boolean } {
  const profileName = variables.TEMPORAL_PROFILE;
  // Always our variables, never process.env: envconfig falls back to process.env without them.
  const fromEnv = () => loadClientConfigProfile({ disableFile: true, overrideEnvVars: variables });
  if (file === null) {
    if (profileName !== undefined) throw new Error(texts.profileNotFound(profileName, null));
    return { profile: fromEnv(), fromFile: false };
  }
  const load = (disableEnv: boolean) =>
    loadClientConfigProfile({ configSource: { data: file.text }, profile: profileName, disableEnv, overrideEnvVars: variables });
  try {
    const fileOnly = load(true);
    return { profile: load(false), fromFile: Object.keys(fileOnly).length > 0 };
  } catch (error) {
    // envconfig 1.24 reads `.profile` of a file that has no [profile.*] table at all and throws a
    // TypeError; Go reads such a file as one without profiles.
    if (error instanceof TypeError) {
      if (profileName !== undefined) throw new Error(texts.profileNotFound(profileName, file.path));
      return { profile: fromEnv(), fromFile: false };
    }
    const message = (error as Error).message;
    if (profileName !== undefined && message.includes(`'${profileName}' not found`)) {
      throw new Error(texts.profileNotFound(profileName, file.path));
    }
    throw new Error(texts.configFileInvalid(file.path, message));
  }
}

type TlsFileField = 'clientCert' | 'clientKey' | 'serverCACert';
const TLS_FILE_NAMES: Record<TlsFileField, { variable: string; toml: string }> = {
  clientCert: { variable: 'TEMPORAL_TLS_CLIENT_CERT', toml: 'client_cert' },
  clientKey: { variable: 'TEMPORAL_TLS_CLIENT_KEY', toml: 'client_key' },
  serverCACert: { variable: 'TEMPORAL_TLS_SERVER_CA_CERT', toml: 'server_ca_cert' },
};

/**
 * The certificates and key of a TLS profile, read and checked, as data: envconfig's own reading
 * would fail at connect time with a bare ENOENT.
 */
function checkedTls(tls: ClientConfigTLS, originOf: (field: TlsFileField, source: ConfigDataSource) => string): ClientConfigTLS {
  const read = (field: TlsFileField): { pem: string; origin: string } | null => {
    const source = tls[field];
    if (source === undefined) return null;
    const origin = originOf(field, source);
    if (!('path' in source)) return { pem: typeof source.data === 'string' ? source.data : Buffer.from(source.data).toString('utf8'), origin };
    try {
      return { pem: readFileSync(source.path, 'utf8'), origin };
    } catch (error) {
      throw new Error(texts.unreadable(origin, source.path, (error as NodeJS.ErrnoException).code ?? String(error)));
    }
  };
  const certificate = (file: { pem: string; origin: string }): X509Certificate => {
    try {
      return new X509Certificate(file.pem);
    } catch {
      throw new Error(texts.notACertificate(file.origin));
    }
  };
  const [cert, key, ca] = [read('clientCert'), read('clientKey'), read('serverCACert')];
  if (ca) certificate(ca);
  if (cert && !key) throw new Error(texts.halfAPair(cert.origin, 'no client key (TEMPORAL_TLS_CLIENT_KEY_PATH or tls.client_key_path)'));
  if (key && !cert) throw new Error(texts.halfAPair(key.origin, 'no client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH or tls.client_cert_path)'));
  if (cert && key) {
    let privateKey;
    try {
      privateKey = createPrivateKey(key.pem);
    } catch {
      throw new Error(texts.notAPrivateKey(key.origin));
    }
    if (!certificate(cert).checkPrivateKey(privateKey)) throw new Error(texts.pairMismatch(cert.origin, key.origin));
  }
  const asData = (file: { pem: string } | null): ConfigDataSource | undefined => (file ? { data: file.pem } : undefined);
  return { ...tls, clientCert: asData(cert), clientKey: asData(key), serverCACert: asData(ca) };
}

/** The Temporal CLI's key normalisation (envconfig 1.24 replaces only the first underscore). */
function normalisedMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([key, value]) => [key.toLowerCase().replaceAll('_', '-'), value]));
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Vigil's Temporal connection settings from the environment (and the TOML profile it points to),
 * or null when no address is configured anywhere. Throws, naming the variable or file, when they
 * are invalid.
 */
export function loadTemporalConnectionSettings(env: NodeJS.ProcessEnv): TemporalConnectionSettings | null {
  const variables = temporalVariablesOf(env);
  const file = configFileOf(variables, env);
  const profileName = variables.TEMPORAL_PROFILE ?? 'default';
  const { profile, fromFile } = profileOf(variables, file);
  const inFile = (key: string) => `${key} of [profile.${profileName}] in ${file?.path}`;

  const address = profile.address?.trim() || null;
  if (address === null) {
    const tls = profile.tls ?? {};
    const remoteOnly = profile.apiKey ? 'an API key' : tls.clientCert || tls.clientKey ? 'a client certificate' : tls.serverCACert ? 'a server CA certificate' : null;
    if (remoteOnly !== null) throw new Error(texts.remoteSettingWithoutAddress(remoteOnly));
    return null;
  }

  const originOfTlsFile = (field: TlsFileField, source: ConfigDataSource) => {
    const kind = 'path' in source ? 'PATH' : 'DATA';
    const variable = `${TLS_FILE_NAMES[field].variable}_${kind}`;
    return variables[variable] !== undefined ? variable : inFile(`tls.${TLS_FILE_NAMES[field].toml}_${kind.toLowerCase()}`);
  };
  const tls = profile.tls && profile.tls.disabled !== true ? checkedTls(profile.tls, originOfTlsFile) : profile.tls;
  const options = toClientOptions({ ...profile, tls }).connectionOptions;
  const metadata = normalisedMetadata(profile.grpcMeta);
  if (options.apiKey && metadata.authorization !== undefined) throw new Error(texts.authorizationTwice);

  const usedVariables = Object.keys(variables).filter((name) => name !== 'TEMPORAL_CONFIG_FILE' && name !== 'TEMPORAL_PROFILE');
  const origin = [
    fromFile ? `[profile.${profileName}] of ${file?.path}` : null,
    usedVariables.length > 0 ? usedVariables.sort().join(', ') : null,
  ]
    .filter((part) => part !== null)
    .join(' + ');

  const settings: TemporalConnectionSettings = {
    address,
    namespace: profile.namespace?.trim() || 'default',
    tls: options.tls === true ? {} : options.tls ? withoutUndefined(options.tls) : false,
    apiKey: options.apiKey || null,
    metadata,
    origin,
  };
  // A config object that ends up in a log line shows the redacted description, never the secrets.
  return Object.defineProperties(settings, {
    toJSON: { value: () => describeTemporalConnection(settings) },
    [inspect.custom]: { value: () => `TemporalConnectionSettings(${describeTemporalConnection(settings)})` },
  });
}

/** A plaintext connection with no credentials: Vigil's own dev server, and tests' and benchmarks' servers. */
export function plainTemporalConnection(address: string, namespace: string, origin = 'the dev server'): TemporalConnectionSettings {
  return { address, namespace, tls: false, apiKey: null, metadata: {}, origin };
}

/** For logs: address, namespace, TLS on/off, whether an API key is set, header names. Never a secret. */
export function describeTemporalConnection(settings: TemporalConnectionSettings): string {
  let tls = 'TLS off';
  if (settings.tls !== false) {
    const details = [
      settings.tls.serverRootCACertificate ? 'server CA given' : 'system CAs',
      settings.tls.clientCertPair ? 'client certificate' : null,
      settings.tls.serverNameOverride ? `server name ${settings.tls.serverNameOverride}` : null,
    ].filter((part) => part !== null);
    tls = `TLS on (${details.join(', ')})`;
  }
  const headers = Object.keys(settings.metadata);
  return [
    settings.address,
    `namespace ${settings.namespace}`,
    tls,
    settings.apiKey ? 'API key set' : 'no API key',
    headers.length > 0 ? `gRPC metadata ${headers.join(', ')}` : null,
    `from ${settings.origin}`,
  ]
    .filter((part) => part !== null)
    .join(', ');
}
