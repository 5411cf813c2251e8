// docker/ checked without a Docker engine: the compose file parsed and its topology checked (commands the CLI
// accepts, syncgroups, URLs, ports, volumes, the secret, healthchecks, depends_on), the Dockerfile's stages and
// .dockerignore, and finally every compose service's command started as a real process on 127.0.0.1 (paths and
// ports mapped into a temporary directory) with the image's healthcheck run against each.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type Proc, startProc } from '../conformance/cluster.ts';
import { createBucketWhenReady } from '../conformance/cluster-load.ts';
import { healthUrl } from '../docker/healthcheck.mjs';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const QUIRE = join(root, 'bin', 'quire.mjs');
const T = { timeout: 120_000 };

// --- a strict reader for the YAML subset compose.yaml is written in -----------------------------------------
// Block mappings and sequences indented by spaces, full-line comments, scalars plain or double-quoted, and flow
// sequences written as JSON. Anything else (anchors, tags, block scalars, inline comments) is an error, so the
// file stays in a form whose meaning this reader and Docker's agree on.

type Yaml = string | number | null | Yaml[] | { [key: string]: Yaml };

function parseYamlSubset(text: string): Yaml {
  const lines = text
    .split('\n')
    .map((raw, i) => ({ raw: raw.replace(/\s+$/, ''), no: i + 1 }))
    .filter((l) => l.raw.trim() !== '' && !l.raw.trimStart().startsWith('#'));
  let pos = 0;
  const indentOf = (l: { raw: string; no: number }) => {
    if (/^ *\t/.test(l.raw)) throw new Error(`line ${l.no}: tab in indentation`);
    return l.raw.length - l.raw.trimStart().length;
  };
  const scalar = (s: string, no: number): Yaml => {
    if (s.startsWith('[') || s.startsWith('{') || s.startsWith('"')) {
      try {
        return JSON.parse(s) as Yaml;
      } catch {
        throw new Error(`line ${no}: not JSON: ${s}`);
      }
    }
    if (/^-?\d+$/.test(s)) return Number(s);
    if (/^['&*!|>%@`]/.test(s) || s.includes(' #') || s.includes(': '))
      throw new Error(`line ${no}: outside the YAML subset: ${s}`);
    return s;
  };
  const block = (indent: number): Yaml => {
    const first = lines[pos]!;
    if (first.raw.slice(indent).startsWith('- ')) {
      const out: Yaml[] = [];
      while (pos < lines.length && indentOf(lines[pos]!) === indent) {
        const l = lines[pos]!;
        const m = /^- (.+)$/.exec(l.raw.slice(indent));
        if (!m) throw new Error(`line ${l.no}: expected "- item"`);
        out.push(scalar(m[1]!, l.no));
        pos++;
      }
      return out;
    }
    const out: Record<string, Yaml> = {};
    while (pos < lines.length) {
      const l = lines[pos]!;
      const ind = indentOf(l);
      if (ind < indent) break;
      if (ind > indent) throw new Error(`line ${l.no}: unexpected indentation`);
      const m = /^([A-Za-z0-9_.-]+):(?: (.+))?$/.exec(l.raw.slice(ind));
      if (!m) throw new Error(`line ${l.no}: expected "key: value"`);
      if (m[1]! in out) throw new Error(`line ${l.no}: ${m[1]} given twice`);
      pos++;
      if (m[2] !== undefined) out[m[1]!] = scalar(m[2], l.no);
      else if (pos < lines.length && indentOf(lines[pos]!) > indent)
        out[m[1]!] = block(indentOf(lines[pos]!));
      else out[m[1]!] = null;
    }
    return out;
  };
  const doc = block(0);
  if (pos !== lines.length) throw new Error(`line ${lines[pos]!.no}: not part of the document`);
  return doc;
}

// --- the files -------------------------------------------------------------------------------------------------

interface Service {
  image: string;
  build: { context: string; dockerfile: string };
  command: string[];
  environment?: Record<string, string>;
  secrets?: string[];
  volumes?: string[];
  expose?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; retries?: number };
}
interface Compose {
  name: string;
  services: Record<string, Service>;
  volumes: Record<string, null>;
  secrets: Record<string, { file: string }>;
}

const compose = parseYamlSubset(
  readFileSync(join(root, 'docker', 'compose.yaml'), 'utf8'),
) as unknown as Compose;
const dockerfile = readFileSync(join(root, 'docker', 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8');

/** `${VAR:-default}` as compose interpolates it, with none of the variables set. */
function interpolate(s: string): string {
  return s.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_, _name, dflt) => dflt ?? '');
}

function flag(cmd: string[], name: string): string | undefined {
  const i = cmd.indexOf(`--${name}`);
  return i < 0 ? undefined : cmd[i + 1];
}

function byCommand(kind: string): Array<[string, Service]> {
  return Object.entries(compose.services).filter(([, s]) => s.command[0] === kind);
}

/** Dockerfile instructions, continuation lines joined, comments dropped, grouped by stage. */
function dockerStages(): Array<{ name: string; from: string; lines: string[] }> {
  const joined = dockerfile
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const stages: Array<{ name: string; from: string; lines: string[] }> = [];
  for (const line of joined.split('\n').map((l) => l.trim())) {
    if (line === '') continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ name: from[2] ?? String(stages.length), from: from[1]!, lines: [] });
    else {
      assert.ok(stages.length > 0, `instruction before FROM: ${line}`);
      stages.at(-1)!.lines.push(line);
    }
  }
  return stages;
}

/** The image's ENV (the last stage), e.g. QUIRE_DATA=/data. */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const l of dockerStages().at(-1)!.lines)
    if (/^ENV\s/i.test(l)) for (const m of l.slice(4).matchAll(/([A-Z0-9_]+)=(\S+)/g)) env[m[1]!] = m[2]!;
  return env;
}

/** Whether .dockerignore keeps `path` (relative to the context) out, as Docker reads it (last match wins). */
function ignored(path: string): boolean {
  const toRegex = (glob: string) =>
    new RegExp(
      `^${glob
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\u0000')
        .replace(/\/\*\*$/g, '\u0001')
        .replace(/\*\*/g, '.*')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\u0000/g, '(?:.*/)?')
        .replace(/\u0001/g, '(?:/.*)?')}$`,
    );
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const raw of dockerignore.split('\n').map((l) => l.trim())) {
    if (raw === '' || raw.startsWith('#')) continue;
    const negate = raw.startsWith('!');
    const re = toRegex((negate ? raw.slice(1) : raw).replace(/^\//, ''));
    if (candidates.some((c) => re.test(c))) out = !negate;
  }
  return out;
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: root, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// --- checks ----------------------------------------------------------------------------------------------------

describe('docker/compose.yaml', () => {
  test('1 tracker, 2 syncgroups × 2 storage nodes, 1 gateway, all from the one image', () => {
    assert.equal(byCommand('tracker').length, 1);
    assert.equal(byCommand('gateway').length, 1);
    const storage = byCommand('storage');
    assert.equal(storage.length, 4);
    const [, tracker] = byCommand('tracker')[0]!;
    const groups = flag(tracker.command, 'syncgroups')!.split(',');
    assert.equal(groups.length, 2);
    for (const g of groups)
      assert.equal(storage.filter(([, s]) => flag(s.command, 'syncgroup') === g).length, 2, `syncgroup ${g}`);
    for (const [name, s] of Object.entries(compose.services)) {
      assert.equal(s.image, compose.services.tracker!.image, `${name} runs the same image`);
      assert.equal(s.build.dockerfile, 'docker/Dockerfile');
      assert.ok(
        existsSync(join(root, 'docker', s.build.context, s.build.dockerfile)),
        `${name}: build context`,
      );
    }
  });

  test(
    "every command is one the CLI accepts: a quire command, with flags from that command's --help",
    T,
    async () => {
      const kinds = ['tracker', 'storage', 'gateway'];
      const helps = await Promise.all(kinds.map((kind) => run([QUIRE, kind, '--help'])));
      for (const [k, kind] of kinds.entries()) {
        const help = helps[k]!;
        assert.equal(help.code, 0, help.stderr);
        for (const [name, s] of byCommand(kind)) {
          const args = s.command.slice(1);
          for (let i = 0; i < args.length; i += 2) {
            assert.match(args[i]!, /^--[a-z-]+$/, `${name}: ${args[i]} is a flag`);
            assert.ok(help.stdout.includes(`${args[i]} `), `${name}: quire ${kind} --help has no ${args[i]}`);
            assert.ok(
              args[i + 1] !== undefined && !args[i + 1]!.startsWith('--'),
              `${name}: ${args[i]} value`,
            );
          }
        }
      }
      assert.deepEqual(
        Object.values(compose.services)
          .map((s) => s.command[0])
          .sort(),
        ['gateway', 'storage', 'storage', 'storage', 'storage', 'tracker'],
      );
    },
  );

  test('URLs, ports, listen addresses, volumes and the secret are consistent', () => {
    const [trackerName, tracker] = byCommand('tracker')[0]!;
    const trackerUrl = `http://${trackerName}:${flag(tracker.command, 'port')}`;
    const volumes = new Set<string>();
    for (const [name, s] of Object.entries(compose.services)) {
      const kind = s.command[0]!;
      const port = flag(s.command, 'port');
      assert.ok(port, `${name} names its port`);
      assert.equal(flag(s.command, 'host'), '0.0.0.0', `${name} listens for the other containers`);
      if (kind !== 'tracker') assert.equal(flag(s.command, 'tracker'), trackerUrl, `${name}: --tracker`);
      if (kind === 'storage')
        assert.equal(flag(s.command, 'advertise'), `http://${name}:${port}`, `${name}: --advertise`);
      // Reachable: exposed to the network, and the gateway published.
      const containerPorts = [
        ...(s.expose ?? []),
        ...(s.ports ?? []).map((p) => interpolate(p).split(':').at(-1)!),
      ];
      assert.ok(containerPorts.includes(port), `${name}: port ${port} exposed (${containerPorts})`);
      if (kind === 'gateway') {
        const website = flag(s.command, 'website-port')!;
        assert.ok(containerPorts.includes(website), `${name}: website port ${website} published`);
        assert.equal((s.ports ?? []).length, 2, 'the gateway publishes S3 and websites');
      } else assert.equal(s.ports, undefined, `${name}: internal APIs are not published`);
      // The secret: every process reads it from the compose secret.
      const secretFile = flag(s.command, 'cluster-secret-file')!;
      const m = /^\/run\/secrets\/(.+)$/.exec(secretFile);
      assert.ok(m, `${name}: --cluster-secret-file ${secretFile} is a compose secret`);
      assert.deepEqual(s.secrets, [m[1]]);
      assert.ok(compose.secrets[m[1]!]?.file, `secret ${m[1]} declared with a file`);
      // Data: a named volume of its own at --data; the gateway keeps nothing.
      if (kind === 'gateway') {
        assert.equal(flag(s.command, 'data'), undefined);
        assert.equal(s.volumes, undefined);
      } else {
        const data = flag(s.command, 'data')!;
        assert.equal(s.volumes?.length, 1, `${name}: one volume`);
        const [vol, at] = s.volumes![0]!.split(':');
        assert.equal(at, data, `${name}: the volume is mounted at --data`);
        assert.ok(vol! in compose.volumes, `${name}: ${vol} is a named volume`);
        assert.ok(!volumes.has(vol!), `${vol} shared`);
        volumes.add(vol!);
      }
    }
    assert.deepEqual(Object.keys(compose.volumes).sort(), [...volumes].sort(), 'no unused volume');
    // The secret file is made by the operator and never committed or sent to a build.
    const secretPath = `docker/${compose.secrets['cluster-secret']!.file.replace(/^\.\//, '')}`;
    assert.ok(readFileSync(join(root, '.gitignore'), 'utf8').split('\n').includes(secretPath));
    assert.ok(ignored(secretPath));
  });

  test("healthchecks ask each service's own port; depends_on waits for healthy services", () => {
    const env = imageEnv();
    for (const [name, s] of Object.entries(compose.services)) {
      assert.deepEqual(s.healthcheck?.test, ['CMD', 'node', 'docker/healthcheck.mjs'], name);
      const serviceEnv = Object.fromEntries(
        Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]),
      );
      const url = healthUrl(['node', 'bin/quire.mjs', ...s.command], { ...env, ...serviceEnv });
      assert.equal(url, `http://127.0.0.1:${flag(s.command, 'port')}/health`, name);
      for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
        assert.ok(compose.services[dep], `${name} depends on ${dep}, a service`);
        assert.equal(cond.condition, 'service_healthy');
        assert.ok(compose.services[dep]!.healthcheck, `${dep} has a healthcheck`);
      }
    }
    for (const [name] of byCommand('storage'))
      assert.deepEqual(Object.keys(compose.services[name]!.depends_on ?? {}), ['tracker']);
    assert.deepEqual(
      Object.keys(byCommand('gateway')[0]![1].depends_on ?? {}).sort(),
      ['tracker', ...byCommand('storage').map(([n]) => n)].sort(),
    );
  });

  test('the healthcheck follows the port a command was given: flag, then environment, then default', () => {
    const q = (...a: string[]) => ['node', '/quire/bin/quire.mjs', ...a];
    assert.equal(healthUrl(q('server'), {}), 'http://127.0.0.1:9000/health');
    assert.equal(
      healthUrl(q('server'), { QUIRE_PORT: '9300', QUIRE_HOST: '0.0.0.0' }),
      'http://127.0.0.1:9300/health',
    );
    assert.equal(
      healthUrl(q('server', '--port', '9400'), { QUIRE_PORT: '9300' }),
      'http://127.0.0.1:9400/health',
    );
    assert.equal(healthUrl(q('server', '--port=9401'), {}), 'http://127.0.0.1:9401/health');
    assert.equal(
      healthUrl(q('server', '--config', '/etc/q.json'), { QUIRE_PORT: '' }, () => ({
        port: 9500,
        host: '::',
      })),
      'http://[::1]:9500/health',
    );
    assert.equal(
      healthUrl(q('gateway', '--host', '10.1.2.3'), { QUIRE_PORT: '9600' }),
      'http://10.1.2.3:9600/health',
    );
    // tracker and storage take their port from the flag only (QUIRE_PORT is the S3 port).
    assert.equal(healthUrl(q('tracker'), { QUIRE_PORT: '9000' }), 'http://127.0.0.1:9100/health');
    assert.equal(healthUrl(q('storage'), { QUIRE_PORT: '9000' }), 'http://127.0.0.1:9201/health');
    assert.equal(healthUrl(q('storage', '--port', '9333'), {}), 'http://127.0.0.1:9333/health');
    assert.throws(() => healthUrl(q('rebuild-index'), {}), /serves no \/health/);
    assert.throws(() => healthUrl(['node', 'other.js'], {}), /not a quire process/);
  });
});

describe('docker/Dockerfile and .dockerignore', () => {
  test('multi-stage: stages copy files that exist; the runtime is non-root with the quire entry and a healthcheck', () => {
    const stages = dockerStages();
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    const runtime = stages.at(-1)!;
    for (const [i, stage] of stages.entries()) {
      for (const line of stage.lines.filter((l) => /^COPY\s/i.test(l))) {
        const words = line.split(/\s+/).slice(1);
        const opts = words.filter((w) => w.startsWith('--'));
        const paths = words.filter((w) => !w.startsWith('--'));
        const from = opts.find((o) => o.startsWith('--from='))?.slice(7);
        const sources = paths.slice(0, -1);
        assert.ok(sources.length > 0, line);
        if (from !== undefined) {
          assert.ok(
            stages.slice(0, i).some((s) => s.name === from),
            `${line}: --from=${from} names an earlier stage`,
          );
          continue;
        }
        for (const src of sources) {
          assert.notEqual(src, '.', `${line}: the runtime copies named paths, never the whole context`);
          assert.ok(existsSync(join(root, src)), `${line}: ${src} exists`);
          assert.ok(!ignored(src), `${line}: ${src} is not excluded by .dockerignore`);
        }
      }
    }
    // What the runtime needs to start: the entry, the CLI and the libraries it imports, the healthcheck.
    const copied = runtime.lines
      .filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    for (const need of ['bin', 'cli', 'common', 'gateway', 'packing', 'storage', 'tracker', 'package.json'])
      assert.ok(copied.includes(need), `the runtime stage copies ${need}`);
    assert.ok(copied.includes('docker/healthcheck.mjs'));
    assert.ok(
      runtime.lines.some((l) => /^COPY\s+--from=\S+\s+\S*node_modules/i.test(l)),
      'node_modules come from the build stage',
    );
    const user = runtime.lines.filter((l) => /^USER\s/i.test(l)).at(-1);
    assert.ok(user && !/^USER\s+(root|0)(:|$)/i.test(user), `runtime user: ${user}`);
    assert.ok(runtime.lines.includes('ENTRYPOINT ["node", "bin/quire.mjs"]'));
    const health = runtime.lines.find((l) => /^HEALTHCHECK\s/i.test(l));
    assert.match(health ?? '', /CMD \["node", "docker\/healthcheck\.mjs"\]$/);
    assert.ok(
      stages[0]!.lines.some((l) => /npm ci --omit=dev/.test(l)),
      'production dependencies only',
    );
  });

  test('.dockerignore keeps data, node_modules, .git, logs, test output and secrets out', () => {
    for (const p of [
      'data/node/index/data.mdb',
      'data-cluster/storage-a-1/x',
      'node_modules/lmdb/package.json',
      'storage/node_modules/x',
      '.git/HEAD',
      '.bench/run.json',
      'quire.log',
      'storage/node.test.ts',
      'conformance/sdk.ts',
      'docker/cluster-secret',
    ])
      assert.ok(ignored(p), `${p} stays out of the image`);
    for (const p of [
      'bin/quire.mjs',
      'cli/main.ts',
      'storage/node.ts',
      'package-lock.json',
      'docker/healthcheck.mjs',
    ])
      assert.ok(!ignored(p), `${p} is in the build context`);
  });
});

describe('the compose topology as plain processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-compose-'));
  const procs = new Map<string, Proc>();
  after(async () => {
    await Promise.all([...procs.values()].map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('every service starts from its compose command; healthchecks pass; S3 works through the gateway', {
    timeout: 300_000,
  }, async () => {
    const names = Object.keys(compose.services);
    const ports = new Map<string, number>();
    for (const n of names) ports.set(n, await freePort());
    const websitePort = await freePort();
    const secretPath = join(dir, 'cluster-secret');
    writeFileSync(secretPath, `${'s3cret-'.repeat(8)}\n`);
    const local = (name: string, s: Service): string[] =>
      s.command.slice(1).map((a, i, args) => {
        const prev = args[i - 1];
        if (prev === '--data') return join(dir, name);
        if (prev === '--cluster-secret-file') return secretPath;
        if (prev === '--host') return '127.0.0.1';
        if (prev === '--port') return String(ports.get(name));
        if (prev === '--website-port') return String(websitePort);
        const url = /^http:\/\/([a-z0-9-]+):(\d+)$/.exec(a);
        if (url) {
          const target = compose.services[url[1]!];
          assert.ok(target, `${a} names a service`);
          assert.equal(flag(target.command, 'port'), url[2], `${a} is that service's port`);
          return `http://127.0.0.1:${ports.get(url[1]!)}`;
        }
        return a;
      });
    const envFor = (s: Service): NodeJS.ProcessEnv => ({
      ...imageEnv(),
      ...Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))])),
      QUIRE_HOST: '127.0.0.1',
      QUIRE_DATA: join(dir, 'unused'),
    });
    // As Docker judges it: unhealthy only after the service's `retries` checks failed in a row.
    const healthy = async (name: string, retries = compose.services[name]!.healthcheck!.retries ?? 3) => {
      let last = '';
      for (let i = 0; i < retries; i++) {
        const r = await run([join(root, 'docker', 'healthcheck.mjs'), String(procs.get(name)!.proc.pid)]);
        if (r.code === 0) return 'healthy';
        last = r.stderr.trim();
      }
      return last;
    };
    const start = (name: string) => {
      const s = compose.services[name]!;
      const p = startProc(name, [s.command[0]!, ...local(name, s)], dir, envFor(s));
      procs.set(name, p);
      return p;
    };
    // In depends_on order: the tracker, then the storage nodes, then the gateway.
    const tracker = start(byCommand('tracker')[0]![0]);
    // A fresh tracker prints the keys once the storage nodes have reported (they may hold an old catalog).
    const keys = Promise.all([
      tracker.line(/^\s+access key:\s+(\S+)/),
      tracker.line(/^\s+secret key:\s+(\S+)/),
    ]);
    keys.catch(() => undefined); // awaited below
    await tracker.line(/^\s+tracker:\s+(\S+)/);
    assert.equal(await healthy('tracker'), 'healthy');
    await Promise.all(byCommand('storage').map(([n]) => start(n).line(/is serving at/)));
    const [accessKeyId, secretAccessKey] = await keys;
    for (const [n] of byCommand('storage')) assert.equal(await healthy(n), 'healthy', n);
    const [gatewayName] = byCommand('gateway')[0]!;
    const endpoint = await start(gatewayName).line(/serving S3 at (\S+)/);
    assert.equal(endpoint, `http://127.0.0.1:${ports.get(gatewayName)}`);
    assert.equal(await healthy(gatewayName), 'healthy');

    const s3 = new S3Client({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId, secretAccessKey },
      forcePathStyle: true,
      maxAttempts: 1,
    });
    await createBucketWhenReady(s3, 'composed');
    for (let i = 0; i < 20; i++)
      await s3.send(new PutObjectCommand({ Bucket: 'composed', Key: `k${i}`, Body: `body ${i}` }));
    for (let i = 0; i < 20; i++) {
      const r = await s3.send(new GetObjectCommand({ Bucket: 'composed', Key: `k${i}` }));
      assert.equal(await r.Body!.transformToString(), `body ${i}`);
    }
    s3.destroy();

    // A hung process is unhealthy (the check times out), and healthy again once it runs.
    const gw = procs.get(gatewayName)!;
    gw.proc.kill('SIGSTOP');
    assert.match(await healthy(gatewayName, 1), /^unhealthy: .*timeout/);
    gw.proc.kill('SIGCONT');
    assert.equal(await healthy(gatewayName), 'healthy');
  });
});
