// The x-amz-copy-source header: `[/]bucket/key[?versionId=id]`, the key URL-encoded by the client.

import { S3Error } from '../errors.ts';
import { percentDecode } from './percent.ts';
import { parseQuery } from './target.ts';
import { validateKey } from './validate.ts';

export interface CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

function invalid(message: string): S3Error {
  return new S3Error('InvalidArgument', message, { ArgumentName: 'x-amz-copy-source' });
}

export function parseCopySource(header: string): CopySource {
  const raw = header.startsWith('/') ? header.slice(1) : header;
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) {
    throw invalid('Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  }
  let bucket: string;
  let key: string;
  try {
    bucket = percentDecode(path.slice(0, slash), false);
    key = percentDecode(path.slice(slash + 1), false);
  } catch {
    throw invalid('Invalid copy source encoding');
  }
  validateKey(key);
  const result: CopySource = { bucket, key };
  if (q >= 0) {
    const params = parseQuery(raw.slice(q + 1));
    const versionId = params.get('versionId');
    if (versionId === undefined || params.size !== 1)
      throw invalid('Invalid copy source: only versionId may follow ?');
    result.versionId = versionId;
  }
  return result;
}
