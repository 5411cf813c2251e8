// pino: JSON lines for machines, pretty output when a person watches the terminal.
import pino, { type Logger } from 'pino';

export function createLogger(level: string): Logger {
  if (process.stdout.isTTY) {
    return pino({
      level,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  // Asynchronous writes: one access-log line per request must not cost a blocking write() each. Lines that
  // arrive while a write is in flight are joined into the next one, so under load many lines share a syscall,
  // and an idle server still writes each line at once. pino flushes what is buffered when the process exits.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 200 });
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
