// Doctor checks of the TLS settings (SSL_CERTFILE, SSL_KEYFILE): expiry, key, versions, plain TCP.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { type DoctorCheck, fail, octalMode, pass, warn } from './doctor-check.ts';

type Env = Record<string, string | undefined>;

/** A certificate closer than this to its end gets a warning. */
export const CERT_WARN_DAYS = 14;
const DAY_MS = 86_400_000;
const MIN_RSA_BITS = 2048;
const RENEW = 'renew the certificate (e.g. certbot renew) and replace the file';

function readCertificate(path: string): X509Certificate | string {
  try {
    return new X509Certificate(readFileSync(path));
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ENOENT';
    return missing ? 'does not exist' : 'is not a PEM certificate';
  }
}

function validityCheck(cert: X509Certificate, now: Date): DoctorCheck {
  const endMs = Date.parse(cert.validTo);
  const leftMs = endMs - now.getTime();
  if (Date.parse(cert.validFrom) > now.getTime()) {
    const fix = 'check the clock or the certificate';
    return fail('certificate', `not valid before ${cert.validFrom}`, fix);
  }
  if (leftMs <= 0) return fail('certificate', `expired on ${cert.validTo}`, RENEW);
  if (leftMs < CERT_WARN_DAYS * DAY_MS) {
    const days = Math.floor(leftMs / DAY_MS);
    return warn('certificate', `expires in ${days} day(s), on ${cert.validTo}`, RENEW);
  }
  return pass('certificate', `valid until ${cert.validTo}`);
}

function certificateChecks(
  path: string,
  now: Date
): { checks: DoctorCheck[]; cert?: X509Certificate } {
  const cert = readCertificate(path);
  if (typeof cert === 'string') {
    const fix = 'point SSL_CERTFILE at the PEM certificate chain';
    return { checks: [fail('SSL_CERTFILE', `${path} ${cert}`, fix)] };
  }
  const checks = [validityCheck(cert, now)];
  const bits = cert.publicKey.asymmetricKeyDetails?.modulusLength;
  if (cert.publicKey.asymmetricKeyType === 'rsa' && bits !== undefined && bits < MIN_RSA_BITS) {
    const fix = `issue a certificate with an RSA ${MIN_RSA_BITS}+ or an EC key`;
    checks.push(fail('certificate key', `RSA key of ${bits} bits`, fix));
  }
  return { checks, cert };
}

function keyChecks(path: string, cert: X509Certificate | undefined): DoctorCheck[] {
  let mode: number;
  let pem: Buffer;
  try {
    mode = statSync(path).mode;
    pem = readFileSync(path);
  } catch {
    const fix = 'point SSL_KEYFILE at the PEM private key';
    return [fail('SSL_KEYFILE', `${path} cannot be read`, fix)];
  }
  const checks: DoctorCheck[] = [];
  if ((mode & 0o077) !== 0) {
    const message = `${path} is mode ${octalMode(mode)}, readable by others`;
    checks.push(fail('SSL_KEYFILE', message, `chmod 600 ${path}`));
  } else {
    checks.push(pass('SSL_KEYFILE', `${path} is readable by its owner only`));
  }
  try {
    const key = createPrivateKey(pem);
    if (cert !== undefined && !cert.checkPrivateKey(key)) {
      const fix = 'install the key that matches the certificate';
      checks.push(fail('SSL_KEYFILE', 'the key does not belong to the certificate', fix));
    }
  } catch {
    const fix = 'use an unencrypted key readable only by the service user';
    checks.push(warn('SSL_KEYFILE', 'the key cannot be read without a passphrase', fix));
  }
  return checks;
}

// Node's TLS listeners accept 1.2 and 1.3 unless NODE_OPTIONS lowers the floor.
function versionCheck(env: Env): DoctorCheck {
  if (/--tls-min-v1\.[01]\b/.test(env['NODE_OPTIONS'] ?? '')) {
    const fix = 'remove --tls-min-v1.0 / --tls-min-v1.1 from NODE_OPTIONS';
    return fail('TLS versions', 'NODE_OPTIONS allows TLS below 1.2', fix);
  }
  return pass('TLS versions', 'TLS 1.2 and 1.3 only');
}

// ElectrumX-style SERVICES (tcp://, ssl://, ws://, wss://): with TLS on, plaintext should be off.
function plainTcpCheck(env: Env): DoctorCheck {
  const services = (env['SERVICES'] ?? '').split(',').map((s) => s.trim().toLowerCase());
  const plain = services.filter((s) => s.startsWith('tcp://') || s.startsWith('ws://'));
  if (plain.length === 0) return pass('plain TCP', 'SERVICES lists no tcp:// or ws:// listener');
  const message = `plaintext listeners next to TLS: ${plain.join(', ')}`;
  return warn('plain TCP', message, 'drop tcp:// and ws:// from SERVICES');
}

/** The TLS checks; one pass line when no certificate is set (the Worker uses Cloudflare's TLS). */
export function tlsChecks(env: Env, now: Date): DoctorCheck[] {
  const certPath = env['SSL_CERTFILE']?.trim() ?? '';
  const keyPath = env['SSL_KEYFILE']?.trim() ?? '';
  if (certPath === '' && keyPath === '') {
    return [pass('TLS', 'no SSL_CERTFILE/SSL_KEYFILE: no Node TLS listener to check')];
  }
  if (certPath === '' || keyPath === '') {
    const missing = certPath === '' ? 'SSL_CERTFILE' : 'SSL_KEYFILE';
    const message = `${missing} is not set while the other TLS file is`;
    return [fail(missing, message, 'set both SSL_CERTFILE and SSL_KEYFILE')];
  }
  const { checks, cert } = certificateChecks(certPath, now);
  return [...checks, ...keyChecks(keyPath, cert), versionCheck(env), plainTcpCheck(env)];
}
