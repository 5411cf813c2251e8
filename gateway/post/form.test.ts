import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../common/testing/rng.ts';
import { S3Error } from '../errors.ts';
import { FormReader, formBoundary } from './form.ts';

const B = '----WebKitFormBoundaryAbC123xYz';

function form(
  parts: Array<{ name: string; filename?: string; type?: string; data: Buffer }>,
  preamble = '',
): Buffer {
  const out: Buffer[] = [Buffer.from(preamble)];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    const type = p.type ? `\r\nContent-Type: ${p.type}` : '';
    out.push(
      Buffer.from(`--${B}\r\nContent-Disposition: ${disposition}${type}\r\n\r\n`),
      p.data,
      Buffer.from('\r\n'),
    );
  }
  out.push(Buffer.from(`--${B}--\r\n`));
  return Buffer.concat(out);
}

async function* split(data: Buffer, sizes: () => number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; ) {
    const n = Math.max(1, Math.min(sizes(), data.length - at));
    yield data.subarray(at, at + n);
    at += n;
  }
}

async function readAll(reader: FormReader) {
  const out: Array<{ name: string; filename?: string; contentType?: string; data: Buffer }> = [];
  for (let p = await reader.next(); p !== undefined; p = await reader.next()) {
    out.push({ ...p, data: await reader.value(1 << 30, () => new Error('too large')) });
  }
  return out;
}

describe('FormReader', () => {
  test('boundary from the Content-Type', () => {
    assert.equal(formBoundary(`multipart/form-data; boundary=${B}`), B);
    assert.equal(formBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b"'), 'a b');
    assert.equal(formBoundary('application/x-www-form-urlencoded'), undefined);
    assert.equal(formBoundary('multipart/form-data'), undefined);
    assert.equal(formBoundary(`multipart/form-data; boundary=${'x'.repeat(71)}`), undefined);
  });

  test('every split of the stream gives the same parts, bytes intact (delimiter look-alikes in data)', {
    timeout: 30_000,
  }, async () => {
    const rng = new Rng(8);
    const tricky = Buffer.from(`a\r\n--${B.slice(0, -1)}x\r\n-\r\n--\r\n${B}`);
    const parts = [
      { name: 'key', data: Buffer.from('user/name') },
      { name: 'empty', data: Buffer.alloc(0) },
      {
        name: 'file',
        filename: 'C:\\dir\\x "y".bin',
        type: 'application/octet-stream',
        data: Buffer.concat([tricky, rng.bytes(5000), tricky]),
      },
    ];
    const body = form(parts, 'preamble to ignore\r\n');
    for (const maxChunk of [1, 2, 3, 7, 64, 1000, body.length]) {
      const got = await readAll(
        new FormReader(
          split(body, () => 1 + rng.int(maxChunk)),
          B,
        ),
      );
      assert.deepEqual(
        got.map((p) => [p.name, p.filename, p.contentType, p.data.toString('hex')]),
        parts.map((p) => [p.name, p.filename, p.type, p.data.toString('hex')]),
        `chunks up to ${maxChunk}`,
      );
    }
  });

  test('the file streams without being collected; what follows it is still readable', {
    timeout: 10_000,
  }, async () => {
    const data = Buffer.alloc(3 * 1024 * 1024, 7);
    const body = form([
      { name: 'file', filename: 'f', data },
      { name: 'late', data: Buffer.from('x') },
    ]);
    const reader = new FormReader(
      split(body, () => 65536),
      B,
    );
    assert.equal((await reader.next())?.name, 'file');
    let total = 0;
    let largest = 0;
    for await (const chunk of reader.body()) {
      total += chunk.length;
      largest = Math.max(largest, chunk.length);
    }
    assert.equal(total, data.length);
    assert.ok(largest <= 65536 + 64, `chunks stay network-sized (largest ${largest})`);
    assert.equal((await reader.next())?.name, 'late');
  });

  test('truncated or garbled bodies are MalformedPOSTRequest', { timeout: 10_000 }, async () => {
    const good = form([{ name: 'key', data: Buffer.from('k') }]);
    const bad = [
      good.subarray(0, good.length - 8),
      Buffer.from(`--${B}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${B}--`),
      Buffer.from(`--${B}\r\nNo-Colon-Here\r\n\r\nx\r\n--${B}--`),
      Buffer.from('no delimiter at all'),
    ];
    for (const body of bad) {
      await assert.rejects(
        readAll(
          new FormReader(
            split(body, () => 5),
            B,
          ),
        ),
        (e: unknown) => {
          assert.ok(e instanceof S3Error);
          assert.equal(e.code, 'MalformedPOSTRequest');
          return true;
        },
      );
    }
  });
});
