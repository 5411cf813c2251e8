// What the cluster's processes (tracker, storage, gateway) share when they start and stop.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from './config.ts';

export function numberFlag(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(
      `${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(text)})`,
    );
  return n;
}

export function urlFlag(text: string | undefined, flag: string): string {
  if (!text) throw new ConfigError(`name the tracker with ${flag} http://HOST:PORT`);
  try {
    const u = new URL(text);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return u.origin;
  } catch {
    throw new ConfigError(`${flag} must be a URL like http://127.0.0.1:9100 (got ${JSON.stringify(text)})`);
  }
}

export function listenHttp(listener: RequestListener, port: number, host: string): Promise<Server> {
  return listenOn(createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, listener), port, host);
}

export function listenOn(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function urlOf(server: Server, host: string): string {
  const port = (server.address() as AddressInfo).port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Resolves at the first SIGINT/SIGTERM or fatal error. */
export function waitForStop(fatal: Promise<unknown>): Promise<{ signal?: string; fatal?: unknown }> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve({ signal: 'SIGINT' }));
    process.once('SIGTERM', () => resolve({ signal: 'SIGTERM' }));
    void fatal.then((f) => resolve({ fatal: f }));
  });
}
