// Calls the tracker's internal API (common/cluster-wire.ts): JSON bodies with the cluster secret, replies
// parsed with their schema. Used by storage nodes (heartbeats), gateways (catalog and layout) and `quire status`.
import type { z } from 'zod';
import { SECRET_HEADER } from './cluster-wire.ts';
import { fromWire, toWire } from './wire-json.ts';

/** The tracker could not be reached or did not answer in time: callers keep working from what they cached. */
export class TrackerUnreachable extends Error {}

/** The tracker answered with an error (`code` as it sent it, e.g. ServiceUnavailable, AccessDenied). */
export class TrackerRefused extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TrackerClientOptions {
  url: string;
  secret: string;
  /** Per call; default 15 s (a DeleteBucket's close waits for gateways to confirm). */
  timeoutMs?: number;
}

export class TrackerClient {
  constructor(private readonly opts: TrackerClientOptions) {}

  get url(): string {
    return this.opts.url;
  }

  async call<S extends z.ZodType>(
    path: string,
    body: unknown,
    reply: S,
    opts: { timeoutMs?: number } = {},
  ): Promise<z.infer<S>> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.opts.url), {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', [SECRET_HEADER]: this.opts.secret },
        ...(body === undefined ? {} : { body: toWire(body) }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? this.opts.timeoutMs ?? 15_000),
      });
    } catch (err) {
      throw new TrackerUnreachable(`tracker ${this.opts.url} unreachable (${(err as Error).message})`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new TrackerUnreachable(`tracker ${this.opts.url} cut its answer (${(err as Error).message})`);
    }
    if (res.status !== 200) {
      let code = 'InternalError';
      let message = text.slice(0, 300);
      try {
        const e = JSON.parse(text) as { code?: string; message?: string };
        code = e.code ?? code;
        message = e.message ?? message;
      } catch {
        // not our JSON error: keep the start of the text
      }
      throw new TrackerRefused(res.status, code, message);
    }
    const parsed = reply.safeParse(fromWire(text));
    if (!parsed.success)
      throw new TrackerRefused(
        502,
        'InternalError',
        'the tracker sent a reply this version does not understand',
      );
    return parsed.data;
  }
}
