#!/usr/bin/env node
// The image's HEALTHCHECK. It finds the running `quire` process (PID 1, or the process after an init such as
// `docker run --init`), reads its command line and environment, and works out where it listens exactly as that
// command does (flag, then environment, then --config file for `quire server`, then the command's default), so the
// check follows whatever port and address the container was given. GET /health there: exit 0 on 200, else 1.
// `node docker/healthcheck.mjs PID` checks another process (tests).
import { readdirSync, readFileSync } from 'node:fs';

const DEFAULT_PORT = { server: 9000, gateway: 9000, tracker: 9100, storage: 9201 };
const TIMEOUT_MS = 2500;

/** The argv of the `quire` invocation (after the entry script) and its environment, for one process. */
export function readProcess(pid) {
  const split = (text) => text.split('\0').filter((s) => s !== '');
  const argv = split(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  const environ = {};
  for (const kv of split(readFileSync(`/proc/${pid}/environ`, 'latin1'))) {
    const eq = kv.indexOf('=');
    if (eq > 0) environ[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { argv, env: environ };
}

function flagValue(args, name) {
  let value;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) value = args[i + 1];
    else if (args[i].startsWith(`--${name}=`)) value = args[i].slice(name.length + 3);
  }
  return value;
}

const nonEmpty = (v) => (v === undefined || v === '' ? undefined : v);

/**
 * Where the quire process with this argv and environment answers /health. `argv` is the whole command line
 * (e.g. ['node', 'bin/quire.mjs', 'storage', '--port', '9201', ...]); `readJson` reads a --config file.
 */
export function healthUrl(argv, env, readJson = (p) => JSON.parse(readFileSync(p, 'utf8'))) {
  const entry = argv.findIndex((a) => /(^|\/)quire(\.mjs)?$/.test(a));
  if (entry < 0) throw new Error(`not a quire process: ${argv.join(' ')}`);
  const [command, ...args] = argv.slice(entry + 1);
  if (!(command in DEFAULT_PORT)) throw new Error(`quire ${command} serves no /health`);
  let port = flagValue(args, 'port');
  let host = flagValue(args, 'host');
  // server and gateway read their listen address from the environment (and server from --config) too;
  // tracker and storage only from their flags.
  if (command === 'server' || command === 'gateway') {
    const configPath = command === 'server' ? flagValue(args, 'config') : undefined;
    const file = configPath ? readJson(configPath) : {};
    port ??= nonEmpty(env.QUIRE_PORT) ?? file.port;
    host ??= nonEmpty(env.QUIRE_HOST) ?? file.host;
  }
  port = Number(port ?? DEFAULT_PORT[command]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`quire ${command} listens on port ${port}: nothing fixed to check`);
  host = host ?? '127.0.0.1';
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/health`;
}

/** PID 1 if it is quire, else the quire process under an init. */
function findQuire() {
  const isQuire = (pid) => {
    try {
      return readProcess(pid).argv.some((a) => /(^|\/)quire(\.mjs)?$/.test(a));
    } catch {
      return false;
    }
  };
  if (isQuire(1)) return 1;
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid);
  const found = pids.find((p) => isQuire(p));
  if (found === undefined) throw new Error('no quire process in this container');
  return Number(found);
}

async function check(pid) {
  const { argv, env } = readProcess(pid);
  const url = healthUrl(argv, env);
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const given = process.argv[2];
  Promise.resolve()
    .then(() => check(given === undefined ? findQuire() : Number(given)))
    .then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`unhealthy: ${err.message}\n`);
        process.exit(1);
      },
    );
}
