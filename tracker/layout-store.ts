// The cluster's layout, created once from --syncgroups and kept in the tracker's data directory (layout.json,
// written durably). Later starts must name the same syncgroups or none: adding a syncgroup means a new layout
// version and moving partitions, which is not built yet. A tracker with a fresh directory (new cluster, or wiped)
// writes it only once it has decided (tracker/rebuild.ts): the storage nodes' layout if they hold one. So the
// file's presence says "this tracker's catalog is decided".
import { readFile } from 'node:fs/promises';
import { layoutSchema } from '../common/cluster-wire.ts';
import { nodeDisk } from '../common/disk.ts';
import { writeFileDurable } from '../common/durable-file.ts';
import { initialLayout, type Layout, validLayout } from '../common/layout.ts';

const FILE = 'layout.json';

export class LayoutError extends Error {}

/** The layout kept in `dir`, or undefined when the directory has none (fresh). */
export async function keptLayout(dir: string, syncgroups: string[] | undefined): Promise<Layout | undefined> {
  const text = await readFile(`${dir}/${FILE}`, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = layoutSchema.safeParse(raw);
  if (!parsed.success || !validLayout(parsed.data))
    throw new LayoutError(`${dir}/${FILE} is damaged; restore it from a backup of the tracker directory`);
  const layout = parsed.data;
  checkSyncgroups(layout, syncgroups, 'the layout was created with');
  return layout;
}

/** Throws when --syncgroups names other syncgroups than `layout` has. */
export function checkSyncgroups(layout: Layout, syncgroups: string[] | undefined, whose: string): void {
  if (syncgroups?.length && syncgroups.join(',') !== layout.syncgroups.join(',')) {
    throw new LayoutError(
      `${whose} --syncgroups ${layout.syncgroups.join(',')} (layout version ${layout.version}), not ${syncgroups.join(',')}; changing syncgroups is not supported yet: start the tracker with --syncgroups ${layout.syncgroups.join(',')} or without --syncgroups`,
    );
  }
}

/** Writes the decided layout (durably). */
export async function saveLayout(dir: string, layout: Layout): Promise<void> {
  await writeFileDurable(nodeDisk, dir, FILE, JSON.stringify(layout));
}

/** The layout to serve with: kept, or (first start) created from --syncgroups. */
export async function loadOrCreateLayout(dir: string, syncgroups: string[] | undefined): Promise<Layout> {
  const kept = await keptLayout(dir, syncgroups);
  if (kept) return kept;
  if (!syncgroups?.length)
    throw new LayoutError('this tracker has no layout yet; name the syncgroups with --syncgroups a,b');
  const layout = initialLayout(syncgroups);
  await saveLayout(dir, layout);
  return layout;
}
