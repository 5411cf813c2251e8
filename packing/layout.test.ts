// FORMAT.md is the contract: its field tables must match the code's layouts exactly, and an encoded entry
// header is pinned to its documented bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { decodeEntryHeader, encodeEntryHeader, volumeCrcOf } from './codec.ts';
import {
  CHUNK_HEADER_FIELDS,
  ENTRY_FIELDS,
  ENTRY_FLAGS,
  type Field,
  HEADER_BYTES,
  MAGIC,
  MARKER_FIELDS,
  padAllocation,
  SECTOR_BYTES,
  SINGLE_FIELDS,
  SUPERBLOCK_FIELDS,
} from './layout.ts';

interface Row {
  offset: number;
  width: number;
  field: string;
  meaning: string;
}

/** Tables whose header row is `| offset | width | field | meaning |`, keyed by the heading above them. */
function formatTables(): Map<string, Row[]> {
  const text = readFileSync(new URL('./FORMAT.md', import.meta.url), 'utf8');
  const tables = new Map<string, Row[]>();
  let heading = '';
  let rows: Row[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.join(',') === 'offset,width,field,meaning') {
      rows = [];
      tables.set(heading, rows);
      continue;
    }
    if (!rows) continue;
    if (cells.length === 0) rows = undefined;
    else if (/^\d+$/.test(cells[0] ?? '')) {
      rows.push({ offset: Number(cells[0]), width: Number(cells[1]), field: cells[2]!, meaning: cells[3]! });
    }
  }
  return tables;
}

function tableFor(tables: Map<string, Row[]>, headingStart: string): Row[] {
  for (const [h, rows] of tables) if (h.startsWith(headingStart)) return rows;
  throw new Error(`FORMAT.md has no field table under "${headingStart}"`);
}

function magicBytes(magic: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(magic);
  return [...b].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');
}

const CASES: Array<[string, Record<string, Field>, number, number]> = [
  ['Superblock', SUPERBLOCK_FIELDS, MAGIC.volume, 64],
  ['Chunkfile header', CHUNK_HEADER_FIELDS, MAGIC.chunkfile, 64],
  ['Entry header', ENTRY_FIELDS, MAGIC.entry, 64],
  ['Singlefiles', SINGLE_FIELDS, MAGIC.singlefile, 64],
  ['Compaction marker', MARKER_FIELDS, MAGIC.compaction, 16],
];

describe('FORMAT.md matches the code', () => {
  const tables = formatTables();
  for (const [heading, fields, magic, size] of CASES) {
    test(`${heading}: fields, offsets, widths, magic`, () => {
      const rows = tableFor(tables, heading);
      assert.deepEqual(
        rows.map((r) => [r.field, r.offset, r.width]),
        Object.entries(fields).map(([name, f]) => [name, f.offset, f.width]),
      );
      // Fields tile the record with no gap or overlap.
      let at = 0;
      for (const r of rows) {
        assert.equal(r.offset, at, `${r.field} starts where the previous field ends`);
        at += r.width;
      }
      assert.equal(at, size);
      assert.ok(rows[0]!.meaning.includes(magicBytes(magic)), `magic documented as ${magicBytes(magic)}`);
    });
  }

  test('flag bits', () => {
    const text = readFileSync(new URL('./FORMAT.md', import.meta.url), 'utf8');
    assert.match(text, new RegExp(`\\|\\s*0x0${ENTRY_FLAGS.deleted}\\s*\\|\\s*deleted\\s*\\|`));
    assert.match(text, new RegExp(`\\|\\s*0x0${ENTRY_FLAGS.filler}\\s*\\|\\s*filler\\s*\\|`));
  });
});

describe('entry header encoding', () => {
  const volumeCrc = volumeCrcOf('test-volume');
  const header = {
    flags: 0,
    keyBytes: 3,
    allocBytes: 136,
    bodyOffset: 64,
    metaBytes: 2,
    dataBytes: 60,
    opver: { counter: 0x0102030405n, nodeId: 7 },
    dataCrc: 0xdeadbeef,
    createdMs: 1_700_000_000_000,
    updatedMs: 1_700_000_000_001,
    keyMetaCrc: 0x11223344,
  };

  test('is pinned to its documented bytes', () => {
    const buf = Buffer.alloc(HEADER_BYTES);
    encodeEntryHeader(buf, 0, header, volumeCrc);
    assert.equal(
      buf.toString('hex'),
      [
        '51454e54', // magic "QENT"
        '01', // version
        '00', // flags
        '0300', // keyBytes 3
        '88000000', // allocBytes 136
        '40000000', // bodyOffset 64
        '02000000', // metaBytes 2
        '3c000000', // dataBytes 60
        '0504030201000000', // opver counter
        '07000000', // opver node id
        'efbeadde', // data CRC
        '0068e5cf8b010000', // createdMs
        '0168e5cf8b010000', // updatedMs
        '44332211', // key/meta CRC
        buf.subarray(60).toString('hex'), // header CRC, checked below
      ].join(''),
    );
    assert.equal(buf.readUInt32LE(60), crc32(buf.subarray(0, 60), volumeCrc));
    assert.deepEqual(decodeEntryHeader(buf, 0, volumeCrc), header);
  });

  test('a header from another volume or with a flipped bit does not decode', () => {
    const buf = Buffer.alloc(HEADER_BYTES);
    encodeEntryHeader(buf, 0, header, volumeCrc);
    assert.equal(decodeEntryHeader(buf, 0, volumeCrcOf('other')), undefined);
    buf[20]! ^= 1;
    assert.equal(decodeEntryHeader(buf, 0, volumeCrc), undefined);
  });

  test('allocations end where the next header does not straddle a sector', () => {
    for (let offset = 64; offset < 4096; offset += 8) {
      for (const need of [64, 65, 100, 448, 449, 1000]) {
        const alloc = padAllocation(offset, need);
        assert.ok(alloc >= need && alloc % 8 === 0);
        const next = offset + alloc;
        assert.equal(Math.floor(next / SECTOR_BYTES), Math.floor((next + HEADER_BYTES - 1) / SECTOR_BYTES));
      }
    }
  });
});
