// Tidy checks over the whole tree: the one-way dependency rule, and habits the style guide bans.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const PARTS = ['common', 'packing', 'storage', 'tracker', 'gateway', 'cli', 'conformance', 'bench'] as const;
type Part = (typeof PARTS)[number];

/** Which of our parts each part may import. Anything not listed is forbidden. */
const ALLOWED: Record<Part, readonly Part[]> = {
  common: [],
  packing: ['common'], // common holds only leaf modules: the Disk seam, crash-safe file steps, CRC-64
  tracker: ['common'],
  storage: ['common', 'packing'],
  gateway: ['common', 'storage', 'tracker'], // storage/tracker only through their interface files, see below
  cli: ['common', 'packing', 'storage', 'tracker', 'gateway'],
  conformance: [],
  // A harness, like cli: drives any part in-process; it starts clusters of real processes as the black-box tests do.
  bench: ['common', 'packing', 'storage', 'tracker', 'gateway', 'cli', 'conformance'],
};

/** The gateway may see storage and tracker only through these files (types and clients). */
const GATEWAY_MAY_IMPORT = new Set([
  'storage/api.ts',
  'storage/errors.ts',
  'storage/client.ts',
  'tracker/catalog.ts',
]);

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (/\.(ts|mts|mjs)$/.test(name) && !name.endsWith('.d.mts')) out.push(path);
  }
  return out;
}

const files = PARTS.flatMap((part) => {
  try {
    return sourceFiles(join(root, part)).map((path) => ({ part, path, rel: relative(root, path) }));
  } catch {
    return [];
  }
});

function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(
    /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
  )) {
    out.push((m[1] ?? m[2])!);
  }
  return out;
}

test('parts import only what the one-way rule allows', () => {
  const problems: string[] = [];
  for (const f of files) {
    for (const spec of importsOf(readFileSync(f.path, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = relative(root, join(f.path, '..', spec));
      const targetPart = target.split('/')[0] as Part;
      if (targetPart === f.part || !PARTS.includes(targetPart)) continue;
      const test = f.rel.endsWith('.test.ts');
      if (!ALLOWED[f.part].includes(targetPart) && !(test && f.part !== 'conformance')) {
        problems.push(`${f.rel} imports ${target}`);
      } else if (
        f.part === 'gateway' &&
        targetPart !== 'common' &&
        !test &&
        !GATEWAY_MAY_IMPORT.has(target)
      ) {
        problems.push(
          `${f.rel} imports ${target} (gateway may use only ${[...GATEWAY_MAY_IMPORT].join(', ')})`,
        );
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('library code has no console output, FIXME or wall-clock/random calls outside adapters', () => {
  const problems: string[] = [];
  for (const f of files) {
    if (f.rel.endsWith('.test.ts') || ['cli', 'bench', 'conformance'].includes(f.part)) continue;
    const text = readFileSync(f.path, 'utf8');
    if (/\bconsole\.(log|error|warn|info|debug)\(/.test(text)) problems.push(`${f.rel}: console output`);
    if (/FIXME/.test(text)) problems.push(`${f.rel}: FIXME`);
    if (/Math\.random\(/.test(text)) problems.push(`${f.rel}: Math.random()`);
  }
  assert.deepEqual(problems, []);
});
