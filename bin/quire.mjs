#!/usr/bin/env node
// The `quire` command. Sources are TypeScript run through tsx's loader; nothing is compiled ahead of time.
// libuv's default of 4 threads lets a few long fdatasyncs of large uploads stall every small file read
// queued behind them; more threads keep small GETs fast while big PUTs sync. Must be set before any I/O.
process.env.UV_THREADPOOL_SIZE ??= '16';

const { register } = await import('tsx/esm/api');

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
