// A Docker Engine API client for one host of the hosts file: its unix socket, or tcp with mutual
// TLS as Docker documents it (the engine checks our client certificate against its CA, we check
// its server certificate against ours). Failures become one clear line, never a raw stack.
import Dockerode from 'dockerode';
import type { HostEntry } from './hosts-file.js';
import { readTlsMaterial, TlsFileError, type TlsMaterial } from './tls-files.js';

/**
 * docker-modem's `connectionTimeout` runs until the answer begins, so it would cut every call that
 * takes longer (a container's create under load, a stop's grace time) and call the host down. None
 * is set by default: the rental service bounds its questions itself (answerBoundMs), pingEngine
 * bounds pings, and a call of a rental's own work may take as long as it takes. Default 0 (none).
 */
export const DEFAULT_ENGINE_CONNECT_TIMEOUT_MS = 0;
/** Longest wait for an engine's answer to a ping. Default 5000 ms. */
export const DEFAULT_ENGINE_PING_TIMEOUT_MS = 5000;

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(readonly host: string, message: string, readonly code?: string) {
    super(`host ${host}: ${message}`);
  }
}

export interface EngineClientOptions {
  /** See DEFAULT_ENGINE_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** Reads a TLS file; tests give their own. Default fs.readFileSync. */
  read?: (path: string) => Buffer;
}

/** The dockerode options for a host; every field set so DOCKER_HOST/DOCKER_CERT_PATH in the environment never leak in. */
export function engineOptions(host: HostEntry, tls: TlsMaterial | null, connectTimeoutMs = DEFAULT_ENGINE_CONNECT_TIMEOUT_MS): Dockerode.DockerOptions {
  const none = { ca: undefined, cert: undefined, key: undefined, timeout: undefined, connectionTimeout: connectTimeoutMs > 0 ? connectTimeoutMs : undefined };
  if (host.engine.kind === 'unix') return { ...none, host: undefined, port: undefined, protocol: undefined, socketPath: host.engine.socketPath };
  if (tls) return { ...none, protocol: 'https', host: host.engine.host, port: host.engine.port, ca: tls.ca, cert: tls.cert, key: tls.key };
  return { ...none, protocol: 'http', host: host.engine.host, port: host.engine.port };
}

/**
 * A client for the host's engine. Throws EngineError when a TLS file is missing or wrong, or
 * when a tcp engine has no TLS and the entry does not explicitly allow plain TCP.
 */
export function engineClient(host: HostEntry, opts: EngineClientOptions = {}): Dockerode {
  let tls: TlsMaterial | null = null;
  if (host.engine.kind === 'tcp') {
    if (host.tls) {
      try {
        tls = readTlsMaterial(host.tls, 'tls', opts.read);
      } catch (err) {
        if (err instanceof TlsFileError) throw new EngineError(host.name, err.message, 'TLS_FILE');
        throw err;
      }
    } else if (!host.insecurePlainTcp) {
      throw new EngineError(host.name, `${host.engineText} has no TLS: refusing plain TCP (anyone who reaches the port controls the engine) unless "insecure_plain_tcp": true is set`, 'PLAIN_TCP');
    }
  }
  return new Dockerode(engineOptions(host, tls, opts.connectTimeoutMs));
}

const SERVER_CERT_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED',
]);

/** One line that says what went wrong talking to a host's engine, and what to check. */
export function describeEngineError(err: unknown, host: HostEntry): string {
  const e = err as NodeJS.ErrnoException & { statusCode?: number; reason?: string; json?: unknown };
  const code = e?.code ?? '';
  const message = String(e?.message ?? err);
  const where = host.engineText;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return `${where} did not answer in time (host down or unreachable?)`;
  if (code === 'ECONNREFUSED') return `nothing listens on ${where} (engine down?)`;
  if (code === 'ENOENT' && host.engine.kind === 'unix') return `no Docker socket at ${host.engine.socketPath} (engine down?)`;
  if (code === 'EACCES') return `permission denied on ${where}`;
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `${where} is unreachable (${code})`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the name in ${where} does not resolve`;
  if (code === 'CERT_HAS_EXPIRED') return `the engine's server certificate at ${where} has expired`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the engine's server certificate at ${where} is not issued for that name or address (check its subjectAltName)`;
  if (SERVER_CERT_UNTRUSTED.has(code)) return `the engine's server certificate at ${where} is not signed by the CA in tls.ca (wrong CA?)`;
  if (/alert (unknown ca|bad certificate|certificate required|certificate unknown|decrypt error|handshake failure)/i.test(message)
    || /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|DECRYPT_ERROR|HANDSHAKE_FAILURE)/.test(code)) {
    return `the engine at ${where} refused our client certificate (tls.cert is not signed by the CA the engine trusts, or is not for client authentication)`;
  }
  if (/wrong version number|packet length too long|WRONG_VERSION_NUMBER/i.test(message + code)) return `${where} does not speak TLS (is it a plain-TCP engine, or not an engine at all?)`;
  if (e?.statusCode === 400 && /HTTP request to an HTTPS server/i.test(`${message} ${JSON.stringify(e.json ?? '')}`)) {
    return `${where} expects TLS: give the host "tls" {"ca", "cert", "key"}`;
  }
  if (code === 'ECONNRESET' || /socket hang up/i.test(message)) {
    return `${where} closed the connection${host.tls ? ' during or after the TLS handshake (is our client certificate trusted by the engine?)' : ''}`;
  }
  if (typeof e?.statusCode === 'number') return `the engine at ${where} answered ${e.statusCode}${e.reason ? ` (${e.reason})` : ''}`;
  return `${where}: ${message.split('\n')[0]}`;
}

/** Pings the engine; resolves when it answers, else throws EngineError with one clear line. */
export async function pingEngine(docker: Dockerode, host: HostEntry, timeoutMs = DEFAULT_ENGINE_PING_TIMEOUT_MS): Promise<void> {
  try {
    // dockerode passes abortSignal to the request; its typings do not list it.
    const ping = docker.ping.bind(docker) as (opts: { abortSignal: AbortSignal }) => Promise<unknown>;
    await ping({ abortSignal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new EngineError(host.name, describeEngineError(err, host), (err as NodeJS.ErrnoException)?.code);
  }
}
