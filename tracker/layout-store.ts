// The cluster's layout, created once at the tracker's first start from --syncgroups and kept in its data
// directory (layout.json, written durably). Later starts must name the same syncgroups or none: adding a
// syncgroup means a new layout version and moving partitions, which is not built yet.
import { readFile } from 'node:fs/promises';
import { layoutSchema } from '../common/cluster-wire.ts';
import { nodeDisk } from '../common/disk.ts';
import { writeFileDurable } from '../common/durable-file.ts';
import { initialLayout, type Layout, validLayout } from '../common/layout.ts';

const FILE = 'layout.json';

export class LayoutError extends Error {}

export async function loadOrCreateLayout(dir: string, syncgroups: string[] | undefined): Promise<Layout> {
  const text = await readFile(`${dir}/${FILE}`, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) {
    if (!syncgroups?.length)
      throw new LayoutError('this tracker has no layout yet; name the syncgroups with --syncgroups a,b');
    const layout = initialLayout(syncgroups);
    await writeFileDurable(nodeDisk, dir, FILE, JSON.stringify(layout));
    return layout;
  }
  const parsed = layoutSchema.safeParse(JSON.parse(text));
  if (!parsed.success || !validLayout(parsed.data))
    throw new LayoutError(`${dir}/${FILE} is damaged; restore it from a backup of the tracker directory`);
  const layout = parsed.data;
  if (syncgroups?.length && syncgroups.join(',') !== layout.syncgroups.join(',')) {
    throw new LayoutError(
      `the layout was created with --syncgroups ${layout.syncgroups.join(',')}; changing syncgroups is not supported yet (start with the same list, or without --syncgroups)`,
    );
  }
  return layout;
}
