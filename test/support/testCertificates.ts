/**
 * A throwaway PKI for TLS tests, made with `openssl` at test time (node can read certificates but
 * cannot sign them): a CA, a server certificate for 127.0.0.1/localhost and a client certificate,
 * all signed by that CA, plus a second, unrelated client certificate. P-256 keys, valid one day.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCertificates {
  dir: string;
  caCertPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  /** A client key/certificate signed by another CA, which the server must refuse. */
  strangerCertPath: string;
  strangerKeyPath: string;
  read(file: string): Buffer;
}

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function selfSignedCa(dir: string, name: string, subject: string) {
  openssl(dir, 'req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

function signedLeaf(dir: string, name: string, ca: string, subject: string, extensions: string) {
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(dir, 'req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
}

export function generateTestCertificates(dir: string): TestCertificates {
  selfSignedCa(dir, 'ca', '/CN=Vigil test CA');
  signedLeaf(dir, 'server', 'ca', '/CN=localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  signedLeaf(dir, 'client', 'ca', '/CN=vigil-worker',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  selfSignedCa(dir, 'stranger-ca', '/CN=Someone else');
  signedLeaf(dir, 'stranger', 'stranger-ca', '/CN=stranger',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  const at = (file: string) => path.join(dir, file);
  return {
    dir,
    caCertPath: at('ca.pem'),
    serverCertPath: at('server.pem'),
    serverKeyPath: at('server.key'),
    clientCertPath: at('client.pem'),
    clientKeyPath: at('client.key'),
    strangerCertPath: at('stranger.pem'),
    strangerKeyPath: at('stranger.key'),
    read: (file) => readFileSync(file),
  };
}
