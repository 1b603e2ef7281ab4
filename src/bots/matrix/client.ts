import type { MatrixClient } from 'matrix-js-sdk';
import loglevel from 'loglevel';
import { logger as sdkGlobalLogger, type Logger as SdkLogger } from 'matrix-js-sdk/lib/logger.js';
import { ThreadloomError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { MatrixSession } from './session.js';
import type { MatrixVault } from './vault.js';

/**
 * Parts of the SDK log through its global `loglevel` loggers, each created at debug and written
 * to the console. Routing the method factory to Threadloom's log at warn silences them, including
 * the loggers made later.
 */
export function quietGlobalSdkLogging(log: Logger): void {
  const factory: loglevel.MethodFactory = (method) => {
    if (method === 'warn') return (...msg: unknown[]) => log.warn(`matrix sdk: ${text(msg)}`);
    if (method === 'error') return (...msg: unknown[]) => log.error(`matrix sdk: ${text(msg)}`);
    return () => undefined;
  };
  // each logger keeps the factory it was made with: replace it everywhere, then rebuild
  loglevel.methodFactory = factory;
  for (const logger of [loglevel, ...Object.values(loglevel.getLoggers()), sdkGlobalLogger as unknown as loglevel.Logger]) {
    logger.methodFactory = factory;
    logger.rebuild();
  }
}

const text = (msg: unknown[]): string => msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : JSON.stringify(m))).join(' ');

/**
 * Starts the Rust crypto. The SDK turns the Rust side's tracing on at debug while it does, and
 * that tracing writes through console.debug/info: those are muted for the moment of the start,
 * then tracing is turned down to warnings for good.
 */
export async function initQuietCrypto(client: MatrixClient, storageKey: Uint8Array | undefined): Promise<void> {
  const { debug, info } = console;
  console.debug = () => undefined;
  console.info = () => undefined;
  try {
    await client.initRustCrypto(storageKey ? { storageKey } : { useIndexedDB: false });
    const wasm = await import('@matrix-org/matrix-sdk-crypto-wasm');
    new wasm.Tracing(wasm.LoggerLevel.Warn).turnOn();
  } finally {
    console.debug = debug;
    console.info = info;
  }
}

/**
 * The SDK logs at debug by default, and every sync and encryption step with it. Only warnings
 * and errors reach Threadloom's log.
 */
export function sdkLogger(log: Logger, prefix = 'matrix sdk'): SdkLogger {
  const quiet = (): void => undefined;
  return {
    trace: quiet,
    debug: quiet,
    info: quiet,
    warn: (...msg: unknown[]) => log.warn(`${prefix}: ${text(msg)}`),
    error: (...msg: unknown[]) => log.error(`${prefix}: ${text(msg)}`),
    getChild: (namespace: string) => sdkLogger(log, `${prefix} ${namespace}`),
  };
}

export interface Credentials {
  homeserverURL: string;
  accessToken?: string;
  deviceId?: string;
  userId?: string;
  password?: string;
}

interface LoginResponse {
  user_id: string;
  device_id: string;
  access_token: string;
}

async function clientApi<T>(baseUrl: string, method: 'GET' | 'POST', path: string, token: string | null, body?: unknown): Promise<{ status: number; body: T & { errcode?: string; error?: string } }> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl.replace(/\/+$/, '')}/_matrix/client/v3${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new ThreadloomError('platform', `matrix: cannot reach the homeserver at ${baseUrl}: ${errorMessage(err)}`, { cause: err });
  }
  return { status: response.status, body: (await response.json().catch(() => ({}))) as T & { errcode?: string; error?: string } };
}

async function whoami(baseUrl: string, token: string): Promise<{ user_id: string; device_id?: string } | null> {
  const { status, body } = await clientApi<{ user_id: string; device_id?: string }>(baseUrl, 'GET', '/account/whoami', token);
  if (status === 401) return null;
  if (status !== 200) throw new ThreadloomError('platform', `matrix: whoami failed: ${status} ${body.errcode ?? ''} ${body.error ?? ''}`.trim());
  return body;
}

async function passwordLogin(credentials: Credentials): Promise<MatrixSession> {
  const { status, body } = await clientApi<LoginResponse>(credentials.homeserverURL, 'POST', '/login', null, {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: credentials.userId },
    password: credentials.password,
    initial_device_display_name: 'Threadloom',
  });
  if (status !== 200) {
    const why = status === 403 ? 'wrong MATRIX_USER_ID or MATRIX_PASSWORD' : `${status} ${body.errcode ?? ''} ${body.error ?? ''}`.trim();
    throw new ThreadloomError('platform', `matrix: login failed: ${why}`);
  }
  return { homeserverURL: credentials.homeserverURL, userId: body.user_id, deviceId: body.device_id, accessToken: body.access_token };
}

/** `@bot:example.org` and `bot` name the same account on one homeserver. */
const localpart = (userId: string): string => userId.replace(/^@/, '').split(':')[0]!;

/**
 * Which account and device the bot runs as. An access token is used as given (its device asked
 * from the homeserver when not configured). A password logs in once; the session is kept, so
 * later starts reuse the same device and its keys, and log in again only if the token was revoked.
 */
export async function resolveSession(credentials: Credentials, vault: MatrixVault, key: Buffer, log: Logger): Promise<MatrixSession> {
  const saved = await vault.readSession(key);
  let session: MatrixSession;
  if (credentials.accessToken) {
    const me = await whoami(credentials.homeserverURL, credentials.accessToken);
    if (!me) throw new ThreadloomError('platform', 'matrix: the homeserver rejected MATRIX_ACCESS_TOKEN (M_UNKNOWN_TOKEN); create a new token for the bot account');
    const deviceId = credentials.deviceId ?? me.device_id;
    if (!deviceId) throw new ThreadloomError('platform', 'matrix: the homeserver did not say which device the access token belongs to; set MATRIX_DEVICE_ID');
    session = { homeserverURL: credentials.homeserverURL, userId: me.user_id, deviceId, accessToken: credentials.accessToken };
  } else if (saved && saved.homeserverURL === credentials.homeserverURL && localpart(saved.userId) === localpart(credentials.userId ?? '') && (await whoami(saved.homeserverURL, saved.accessToken))) {
    session = saved;
  } else {
    session = await passwordLogin(credentials);
    log.info(`matrix: logged in as ${session.userId}, new device ${session.deviceId} (kept in ${vault.where})`);
  }
  if (saved && (saved.userId !== session.userId || saved.deviceId !== session.deviceId)) {
    const moved = await vault.retireStore(`matrix: now device ${session.deviceId} of ${session.userId} (was ${saved.deviceId} of ${saved.userId})`);
    if (moved) log.warn(moved);
  }
  await vault.saveSession(key, session);
  return session;
}

/** Cross-signing, so Element shows the bot's device as verified by its owner; best effort. */
export async function setUpCrossSigning(client: MatrixClient, session: MatrixSession, password: string | undefined, log: Logger): Promise<void> {
  const crypto = client.getCrypto();
  if (!crypto) return;
  try {
    if (await crypto.isCrossSigningReady()) return;
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        try {
          // homeservers let an account upload its first cross-signing keys without a password
          await makeRequest(null);
        } catch (err) {
          const uia = (err as { data?: { session?: string } }).data;
          if (!password || !uia?.session) throw err;
          await makeRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: session.userId }, password, session: uia.session });
        }
      },
    });
    log.info('matrix: cross-signing set up for the bot device');
  } catch (err) {
    log.warn(`matrix: could not set up cross-signing (users may see the bot's device as unverified): ${errorMessage(err)}`);
  }
}
