// The main access key: from config, or generated once and kept (mode 0600) in the data directory.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Credentials } from '../gateway/auth/types.ts';
import { ConfigError } from './config.ts';

const FILE = 'credentials.json';

export async function mainCredentials(dataDir: string, given: Partial<Credentials>): Promise<Credentials> {
  if (given.accessKeyId && given.secretAccessKey) {
    return { accessKeyId: given.accessKeyId, secretAccessKey: given.secretAccessKey };
  }
  const path = join(dataDir, FILE);
  const existing = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined) {
    try {
      const parsed = JSON.parse(existing) as Credentials;
      if (typeof parsed.accessKeyId === 'string' && typeof parsed.secretAccessKey === 'string') return parsed;
    } catch {
      // fall through to the error below
    }
    throw new ConfigError(
      `${path} is damaged; delete it to generate new credentials, or set QUIRE_ACCESS_KEY/QUIRE_SECRET_KEY`,
    );
  }
  const created: Credentials = {
    accessKeyId: `QK${randomBytes(9).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
  await writeFile(path, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return created;
}

/** Replaces the kept main key durably (a tracker rebuilt from the storage nodes keeps the cluster's old one). */
export async function saveMainCredentials(dataDir: string, creds: Credentials): Promise<void> {
  await writePrivateFileDurable(dataDir, FILE, `${JSON.stringify(creds, null, 2)}\n`);
}

/** Writes `dir/name` readable by this user only, atomically and durably (tmp, fdatasync, rename, fsync dir). */
export async function writePrivateFileDurable(dir: string, name: string, text: string): Promise<void> {
  const path = join(dir, name);
  const fh = await open(`${path}.tmp`, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(`${path}.tmp`, path);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
