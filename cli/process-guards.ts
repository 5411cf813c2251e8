// Last-resort handlers for errors no code path caught. An unhandled promise rejection is logged and the
// process serves on: one request's stray rejection must not take the service down for everyone (Node's
// default is to exit). An uncaught exception may have left shared state half-changed, so it is logged and
// the server stops cleanly (in-flight requests finish or are aborted, the storage node closes) with exit 1.
import type { Logger } from 'pino';

export interface ProcessGuards {
  /** Resolves with the first uncaught exception, so the caller can stop the server. */
  readonly fatal: Promise<unknown>;
  /** Unhandled rejections seen so far (for tests and metrics). */
  readonly rejections: () => number;
  remove(): void;
}

export function installProcessGuards(logger: Logger): ProcessGuards {
  let rejections = 0;
  let reportFatal!: (err: unknown) => void;
  const fatal = new Promise<unknown>((resolve) => {
    reportFatal = resolve;
  });
  const onRejection = (reason: unknown) => {
    rejections++;
    logger.error({ err: reason }, 'unhandled promise rejection (a bug; the server keeps serving)');
  };
  const onException = (err: unknown) => {
    logger.fatal({ err }, 'uncaught exception (a bug); stopping cleanly');
    reportFatal(err);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    fatal,
    rejections: () => rejections,
    remove: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}
