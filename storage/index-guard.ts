// Whether the index files can be trusted at start. In 'os' sync mode (index-db.ts) LMDB never
// fsyncs: after a process crash the page cache still holds every commit, but after a machine
// crash the files may be torn. `<dataDir>/index-state.json` records, durably, that the index is
// open and under which boot; if it was open under another boot id, the machine went down under
// it and the index is deleted before LMDB reads a byte of it (the volumes rebuild it).
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from './durable-file.ts';

interface IndexState {
  open: boolean;
  sync: 'flush' | 'os';
  bootId: string;
}

const STATE_FILE = 'index-state.json';

/** The kernel's id of this boot ('' where there is none: then every unclean 'os' index is dropped). */
export async function currentBootId(): Promise<string> {
  try {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return '';
  }
}

/** Deletes the index if a machine crash may have torn it; then marks it open under this boot. */
export async function guardIndexOpen(
  dataDir: string,
  indexPath: string,
  sync: 'flush' | 'os',
  bootId?: string,
): Promise<{ discarded: boolean; sameBoot: boolean }> {
  const boot = bootId ?? (await currentBootId());
  const prev = await readState(dataDir);
  const torn = prev?.open === true && prev.sync === 'os' && (prev.bootId !== boot || boot === '');
  if (torn) await rm(indexPath, { recursive: true, force: true });
  await writeState(dataDir, { open: true, sync, bootId: boot });
  // Left open under this boot: the process died, the page cache (every written byte) survived.
  const sameBoot = prev?.open === true && boot !== '' && prev.bootId === boot;
  return { discarded: torn, sameBoot };
}

/** After the index is synced and closed. */
export async function guardIndexClosed(dataDir: string, sync: 'flush' | 'os'): Promise<void> {
  await writeState(dataDir, { open: false, sync, bootId: await currentBootId() });
}

async function readState(dataDir: string): Promise<IndexState | undefined> {
  try {
    const s = JSON.parse(await readFile(join(dataDir, STATE_FILE), 'utf8')) as Partial<IndexState>;
    if (typeof s.open !== 'boolean' || typeof s.bootId !== 'string') return undefined;
    return { open: s.open, sync: s.sync === 'os' ? 'os' : 'flush', bootId: s.bootId };
  } catch {
    return undefined;
  }
}

function writeState(dataDir: string, s: IndexState): Promise<void> {
  return writeFileDurable(dataDir, STATE_FILE, JSON.stringify(s));
}
