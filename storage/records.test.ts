import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeCheckpoint,
  decodeEntryMeta,
  decodeObjectOpver,
  decodeObjectSummary,
  decodeObjectValue,
  decodePendingValue,
  decodeUploadValue,
  encodeCheckpoint,
  encodeEntryMeta,
  encodeObjectValue,
  encodePendingValue,
  encodeUploadValue,
  isDeleteMarkerValue,
  type ObjectValue,
  objectValueFromEntryMeta,
  type VolLoc,
} from './records.ts';

const at: VolLoc = { volumeId: 'v1', location: { kind: 'chunk', fileId: 3, offset: 4096, allocBytes: 256 } };
const blobAt: VolLoc = {
  volumeId: 'v2',
  location: { kind: 'single', fileId: 9, offset: 0, allocBytes: 5e6 },
};

test('an object index value built from the entry meta is byte-identical to a fresh encoding', () => {
  const v: ObjectValue = {
    size: 5e6,
    etag: 'abc',
    lastModifiedMs: 1_700_000_000_123,
    headers: { contentType: 'text/plain', userMeta: { a: 'é' } },
    checksums: { CRC32C: 'AAAAAA==' },
    checksumType: 'FULL_OBJECT',
    body: { kind: 'blob', blobId: Buffer.from('0123456789abcdef') },
    seq: { counter: 70n, nodeId: 2 },
    versioned: true,
    tags: [
      { key: 'b', value: '2' },
      { key: 'a', value: '' },
    ],
    retention: { mode: 'COMPLIANCE', retainUntilMs: 1_800_000_000_000 },
    legalHold: true,
    acl: {
      owner: 'AK1',
      grants: [
        { grantee: { type: 'CanonicalUser', id: 'AK1' }, permission: 'FULL_CONTROL' },
        {
          grantee: { type: 'Group', uri: 'http://acs.amazonaws.com/groups/global/AllUsers' },
          permission: 'READ',
        },
        { grantee: { type: 'CanonicalUser', id: 'AK2' }, permission: 'WRITE_ACP' },
      ],
    },
    opver: { counter: 77n, nodeId: 2 },
    at,
    blobAt,
  };
  const { opver: _o, at: _a, blobAt: _b, ...meta } = v;
  const entry = encodeEntryMeta({ kind: 'object', meta });
  const built = objectValueFromEntryMeta(entry, v.opver, at, blobAt);
  assert.deepEqual(built, encodeObjectValue(v));
  assert.deepEqual(decodeObjectValue(built), v);
  assert.deepEqual(decodeObjectSummary(built), {
    size: 5e6,
    etag: 'abc',
    lastModifiedMs: 1_700_000_000_123,
    deleteMarker: false,
    versioned: true,
    seq: v.seq,
  });
  assert.deepEqual(decodeObjectOpver(built), { opver: v.opver });
  const mp: ObjectValue = {
    ...v,
    body: { kind: 'multipart', uploadId: 'u1', parts: [{ partNumber: 1, size: 5, etag: 'e' }] },
  };
  assert.deepEqual(decodeObjectOpver(encodeObjectValue(mp)), { opver: v.opver, uploadId: 'u1' });
  const marker: ObjectValue = { ...v, body: { kind: 'inline' }, deleteMarker: true, size: 0, etag: '' };
  delete marker.retention;
  delete marker.tags;
  assert.equal(isDeleteMarkerValue(encodeObjectValue(marker)), true);
  assert.equal(isDeleteMarkerValue(built), false);
  assert.deepEqual(decodeObjectValue(encodeObjectValue(marker)), marker);
});

test('object metas written before versioning (format 1) still decode: the null version, no stamp', () => {
  // version 1 | kind object | size | etag | lastModified | 6 absent headers | userMeta {} | checksums {} | type | inline
  const w = Buffer.alloc(1 + 1 + 8 + 4 + 1 + 8 + 6 + 4 + 4 + 1 + 1);
  let o = 0;
  w[o++] = 1;
  w[o++] = 1;
  w.writeDoubleLE(3, o);
  o += 8;
  w.writeUInt32LE(1, o);
  o += 4;
  w[o++] = 0x78; // 'x'
  w.writeDoubleLE(5, o);
  const e = decodeEntryMeta(w);
  assert.equal(e.kind, 'object');
  if (e.kind !== 'object') return;
  assert.equal(e.meta.size, 3);
  assert.equal(e.meta.etag, 'x');
  assert.equal(e.meta.seq, undefined);
  assert.equal(e.meta.versioned, undefined);
});

test('pending deletes, tombstones and the binlog checkpoint use versioned binary encodings', () => {
  const p = encodePendingValue({ at, tombstone: blobAt });
  assert.equal(p[0], 1, 'version byte');
  assert.deepEqual(decodePendingValue(p), { at, tombstone: blobAt });
  assert.deepEqual(decodePendingValue(encodePendingValue({ at })), { at });
  assert.throws(() => decodePendingValue(Buffer.from('{"volumeId":"v1"}')), /version/);
  assert.deepEqual(decodeEntryMeta(encodeEntryMeta({ kind: 'tombstone' })), { kind: 'tombstone' });
  const c = { file: 3, offset: 123456, counter: 2n ** 40n };
  assert.deepEqual(decodeCheckpoint(encodeCheckpoint(c)), c);
});

test('the website redirect location round-trips in entry metas and index values, apart from user metadata', () => {
  const v: ObjectValue = {
    size: 3,
    etag: 'e',
    lastModifiedMs: 1,
    headers: { contentType: 'text/html', websiteRedirectLocation: '/new', userMeta: { color: 'red' } },
    checksums: {},
    body: { kind: 'inline' },
    seq: { counter: 1n, nodeId: 1 },
    opver: { counter: 1n, nodeId: 1 },
    at,
  };
  assert.deepEqual(decodeObjectValue(encodeObjectValue(v)), v);
  const { opver: _o, at: _a, ...meta } = v;
  assert.deepEqual(decodeEntryMeta(encodeEntryMeta({ kind: 'object', meta })), { kind: 'object', meta });
  // An entry written without one (as before the field existed) reads back without one.
  const plain = { ...meta, headers: { userMeta: { color: 'red' } } };
  assert.deepEqual(decodeEntryMeta(encodeEntryMeta({ kind: 'object', meta: plain })), {
    kind: 'object',
    meta: plain,
  });
});

test("an upload's tags (x-amz-tagging on CreateMultipartUpload) trail its meta and index value; uploads without stay as before", () => {
  const base = { bucket: 'b', key: Buffer.from('k'), headers: { userMeta: {} }, initiatedMs: 7 };
  const plainMeta = encodeEntryMeta({ kind: 'upload', meta: base });
  const tagged = {
    ...base,
    tags: [
      { key: 'a', value: '' },
      { key: 'é', value: 'v' },
    ],
  };
  const taggedMeta = encodeEntryMeta({ kind: 'upload', meta: tagged });
  assert.deepEqual(decodeEntryMeta(plainMeta), { kind: 'upload', meta: base });
  assert.deepEqual(decodeEntryMeta(taggedMeta), { kind: 'upload', meta: tagged });
  assert.ok(taggedMeta.subarray(0, plainMeta.length).equals(plainMeta), 'tags only append');
  const value = { uploadId: 'u', opver: { counter: 3n, nodeId: 1 }, at };
  assert.deepEqual(decodeUploadValue(encodeUploadValue({ ...base, ...value })), { ...base, ...value });
  assert.deepEqual(decodeUploadValue(encodeUploadValue({ ...tagged, ...value })), { ...tagged, ...value });
});

test("an upload's ACL (x-amz-acl on CreateMultipartUpload) trails its tags, with or without tags", () => {
  const base = { bucket: 'b', key: Buffer.from('k'), headers: { userMeta: {} }, initiatedMs: 7 };
  const acl = {
    owner: 'AK',
    grants: [
      { grantee: { type: 'CanonicalUser' as const, id: 'AK' }, permission: 'FULL_CONTROL' as const },
      {
        grantee: { type: 'Group' as const, uri: 'http://acs.amazonaws.com/groups/global/AllUsers' },
        permission: 'READ' as const,
      },
    ],
  };
  const value = { uploadId: 'u', opver: { counter: 3n, nodeId: 1 }, at };
  for (const meta of [
    { ...base, acl },
    { ...base, tags: [{ key: 't', value: 'v' }], acl },
  ]) {
    assert.deepEqual(decodeEntryMeta(encodeEntryMeta({ kind: 'upload', meta })), { kind: 'upload', meta });
    assert.deepEqual(decodeUploadValue(encodeUploadValue({ ...meta, ...value })), { ...meta, ...value });
  }
});
