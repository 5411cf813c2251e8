// Browser form uploads (POST Object): multipart/form-data bodies built as a browser builds them, signed
// with a SigV4 POST policy computed here independently of the server; every policy violation answered with
// AWS's error and nothing stored; success statuses and the redirect; a large file that streams in bounded
// memory; and curl -F.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeletePublicAccessBlockCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { md5hex, seededBytes } from './bytes.ts';
import { errorCode, type RawResponse, sendRaw } from './raw.ts';
import { expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { type Credentials, isExternal, startTarget, type Target } from './target.ts';
import { run, skipUnlessInstalled } from './tree.ts';

const MiB = 1024 * 1024;
/** The key-field variable S3 replaces with the uploaded file's name. */
const FILENAME = '$' + '{filename}';
type Condition = Record<string, string> | Array<string | number>;

interface PolicyOptions {
  creds: Credentials;
  region: string;
  conditions: Condition[];
  expiresInMs?: number;
  /** Tamper with the signature. */
  badSignature?: boolean;
}

/** The signed fields of a SigV4 POST policy, as a browser page's server-side code would compute them. */
export function signedPolicyFields(o: PolicyOptions): Array<[string, string]> {
  const now = new Date();
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  const day = amzDate.slice(0, 8);
  const credential = `${o.creds.accessKeyId}/${day}/${o.region}/s3/aws4_request`;
  const policy = {
    expiration: new Date(now.getTime() + (o.expiresInMs ?? 600_000)).toISOString(),
    conditions: [
      ...o.conditions,
      { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
      { 'x-amz-credential': credential },
      { 'x-amz-date': amzDate },
    ],
  };
  const b64 = Buffer.from(JSON.stringify(policy)).toString('base64');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${o.creds.secretAccessKey}`, day), o.region), 's3'), 'aws4_request');
  let signature = createHmac('sha256', key).update(b64).digest('hex');
  if (o.badSignature) signature = (signature[0] === '0' ? '1' : '0') + signature.slice(1);
  return [
    ['policy', b64],
    ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
    ['x-amz-credential', credential],
    ['x-amz-date', amzDate],
    ['x-amz-signature', signature],
  ];
}

export interface FormFile {
  filename: string;
  contentType: string;
  data: Buffer;
}

/** A multipart/form-data body exactly as Chrome sends one (WebKit boundary, CRLFs, closing `--` and CRLF). */
export function browserForm(
  fields: Array<[string, string]>,
  file: FormFile | undefined,
  trailing: Array<[string, string]> = [],
): { contentType: string; body: Buffer } {
  const boundary = `----WebKitFormBoundary${createHash('md5').update(JSON.stringify(fields)).digest('base64url').slice(0, 16)}`;
  const parts: Buffer[] = [];
  const field = ([name, value]: [string, string]) =>
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  fields.forEach(field);
  if (file) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n`,
      ),
      file.data,
      Buffer.from('\r\n'),
    );
  }
  trailing.forEach(field);
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(parts) };
}

describe('POST Object (browser form uploads)', () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('post');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  const post = (form: { contentType: string; body: Buffer }, path = `/${bucket}`): Promise<RawResponse> =>
    sendRaw(target, { method: 'POST', path, headers: { 'content-type': form.contentType }, body: form.body });
  const policy = (conditions: Condition[], extra: Partial<PolicyOptions> = {}) =>
    signedPolicyFields({ creds: target.creds, region: target.region, conditions, ...extra });
  const file = (data: Buffer | string, filename = 'photo.jpg', contentType = 'image/jpeg'): FormFile => ({
    filename,
    contentType,
    data: Buffer.from(data),
  });
  const absent = async (key: string) =>
    expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), {
      code: 'NotFound',
      status: 404,
    });

  test('default 204; fields become the object headers and metadata; byte-exact', {
    timeout: 60_000,
  }, async () => {
    const data = seededBytes(1, 70_000);
    const fields: Array<[string, string]> = [
      ['key', 'uploads/a.jpg'],
      ['Content-Type', 'image/jpeg'],
      ['x-amz-meta-owner', 'ann'],
      ...policy([
        { bucket },
        ['eq', '$key', 'uploads/a.jpg'],
        ['starts-with', '$Content-Type', 'image/'],
        ['starts-with', '$x-amz-meta-owner', ''],
      ]),
    ];
    const res = await post(browserForm(fields, file(data)));
    assert.equal(res.status, 204, res.body.toString());
    assert.equal(res.headers.etag, `"${md5hex(data)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'uploads/a.jpg' }));
    assert.ok((await readBody(got.Body)).equals(data));
    assert.equal(got.ContentType, 'image/jpeg');
    assert.deepEqual(got.Metadata, { owner: 'ann' });
  });

  test('success_action_status 201 answers PostResponse XML; 200 answers empty', {
    timeout: 60_000,
  }, async () => {
    const mk = (status: string, key: string) =>
      browserForm(
        [
          ['key', key],
          ['success_action_status', status],
          ...policy([{ bucket }, { key }, { success_action_status: status }]),
        ],
        file('hello'),
      );
    const created = await post(mk('201', 'st/201.txt'));
    assert.equal(created.status, 201);
    const xml = created.body.toString();
    assert.match(xml, /^<\?xml[^>]*>\s*<PostResponse/);
    assert.match(xml, new RegExp(`<Bucket>${bucket}</Bucket>`));
    assert.match(xml, /<Key>st\/201.txt<\/Key>/);
    assert.match(xml, new RegExp(`<ETag>&quot;${md5hex(Buffer.from('hello'))}&quot;</ETag>`));
    assert.match(xml, /<Location>http:\/\/[^<]+\/st\/201.txt<\/Location>/);
    const ok = await post(mk('200', 'st/200.txt'));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.length, 0);
  });

  test('success_action_redirect: 303 with bucket, key and etag in the query', {
    timeout: 60_000,
  }, async () => {
    const redirect = 'https://app.example.com/done?x=1';
    const res = await post(
      browserForm(
        [
          ['key', 'r/done.txt'],
          ['success_action_redirect', redirect],
          ...policy([{ bucket }, ['starts-with', '$key', 'r/'], { success_action_redirect: redirect }]),
        ],
        file('x'),
      ),
    );
    assert.equal(res.status, 303);
    const location = new URL(String(res.headers.location));
    assert.equal(location.origin + location.pathname, 'https://app.example.com/done');
    assert.equal(location.searchParams.get('x'), '1');
    assert.equal(location.searchParams.get('bucket'), bucket);
    assert.equal(location.searchParams.get('key'), 'r/done.txt');
    assert.equal(location.searchParams.get('etag'), `"${md5hex(Buffer.from('x'))}"`);
  });

  test('the filename variable in the key is the uploaded file name (path dropped), checked by starts-with', {
    timeout: 60_000,
  }, async () => {
    const res = await post(
      browserForm(
        [['key', `user/eric/${FILENAME}`], ...policy([{ bucket }, ['starts-with', '$key', 'user/eric/']])],
        file('pic', 'C:\\Users\\eric\\cat pic.png', 'image/png'),
      ),
    );
    assert.equal(res.status, 204, res.body.toString());
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'user/eric/cat pic.png' }));
    assert.equal(head.ContentLength, 3);
  });

  test('each violated condition is AWS error, and nothing is stored', { timeout: 60_000 }, async () => {
    const key = 'denied/x.txt';
    const base = (conditions: Condition[], extra: Partial<PolicyOptions> = {}): Array<[string, string]> => [
      ['key', key],
      ...policy(conditions, extra),
    ];
    const cases: Array<[string, { contentType: string; body: Buffer }, number, string, RegExp?]> = [
      [
        'expired policy',
        browserForm(base([{ bucket }, { key }], { expiresInMs: -1000 }), file('a')),
        403,
        'AccessDenied',
        /Invalid according to Policy: Policy expired/,
      ],
      [
        'key not as the policy says',
        browserForm(base([{ bucket }, ['eq', '$key', 'other']]), file('a')),
        403,
        'AccessDenied',
        /Policy Condition failed: \["eq", "\$key", "other"\]/,
      ],
      [
        'another bucket in the policy',
        browserForm(base([{ bucket: 'someone-else' }, { key }]), file('a')),
        403,
        'AccessDenied',
        /Policy Condition failed/,
      ],
      [
        'a field no condition names',
        browserForm([['x-amz-meta-sneaky', '1'], ...base([{ bucket }, { key }])], file('a')),
        403,
        'AccessDenied',
        /Extra input fields: x-amz-meta-sneaky/,
      ],
      [
        'file larger than content-length-range',
        browserForm(base([{ bucket }, { key }, ['content-length-range', 1, 10]]), file('0123456789A')),
        400,
        'EntityTooLarge',
      ],
      [
        'file smaller than content-length-range',
        browserForm(base([{ bucket }, { key }, ['content-length-range', 5, 10]]), file('abc')),
        400,
        'EntityTooSmall',
      ],
      [
        'bad signature',
        browserForm(base([{ bucket }, { key }], { badSignature: true }), file('a')),
        403,
        'SignatureDoesNotMatch',
      ],
      [
        'unknown access key',
        browserForm(
          [
            ['key', key],
            ...signedPolicyFields({
              creds: { accessKeyId: 'NOSUCHKEY', secretAccessKey: 'nope-nope' },
              region: target.region,
              conditions: [{ bucket }, { key }],
            }),
          ],
          file('a'),
        ),
        403,
        'InvalidAccessKeyId',
      ],
      [
        'policy that is not JSON',
        browserForm(
          base([{ bucket }, { key }]).map(([n, v]): [string, string] =>
            n === 'policy' ? [n, 'bm90IGpzb24='] : [n, v],
          ),
          file('a'),
        ),
        403,
        'SignatureDoesNotMatch',
      ],
      [
        'no key field',
        browserForm(policy([{ bucket }]), file('a')),
        400,
        'InvalidArgument',
        /must contain a field named 'key'/,
      ],
      ['no file', browserForm(base([{ bucket }, { key }]), undefined), 400, 'InvalidArgument'],
      [
        'a field after the file',
        browserForm(base([{ bucket }, { key }]), file('a'), [['x-amz-meta-late', '1']]),
        400,
        'MalformedPOSTRequest',
      ],
      [
        'two files',
        browserForm(base([{ bucket }, { key }]), file('a'), [['file', 'second']]),
        400,
        'IncorrectNumberOfFilesInPostRequest',
      ],
      [
        'anonymous (no policy) on a private bucket',
        browserForm([['key', key]], file('a')),
        403,
        'AccessDenied',
      ],
      [
        'not multipart/form-data',
        { contentType: 'application/x-www-form-urlencoded', body: Buffer.from('key=x') },
        412,
        'PreconditionFailed',
      ],
    ];
    for (const [what, form, status, code, message] of cases) {
      const res = await post(form);
      assert.equal(res.status, status, `${what}: ${res.body}`);
      assert.equal(errorCode(res.body), code, `${what}: ${res.body}`);
      if (message) assert.match(res.body.toString().replaceAll('&quot;', '"'), message, what);
    }
    await absent(key);
  });

  test('authorization: anonymous forms and other keys upload only where a bucket policy allows', {
    timeout: 60_000,
  }, async () => {
    const drop = uniqueBucket('dropbox');
    await s3.send(new CreateBucketCommand({ Bucket: drop }));
    const other = target.otherCreds;
    const signedBy = (creds: Credentials, key: string) =>
      browserForm(
        [
          ['key', key],
          ...signedPolicyFields({ creds, region: target.region, conditions: [{ bucket: drop }, { key }] }),
        ],
        file('x'),
      );
    const anonymous = (key: string) => browserForm([['key', key]], file('x'));
    const denied = async (form: { contentType: string; body: Buffer }, what: string) => {
      const res = await post(form, `/${drop}`);
      assert.equal(res.status, 403, `${what}: ${res.body}`);
      assert.equal(errorCode(res.body), 'AccessDenied', what);
    };
    await denied(anonymous('in/a'), 'anonymous, no policy');
    if (other) await denied(signedBy(other, 'in/b'), 'another key, no policy');
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: drop,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: '*',
              Action: 's3:PutObject',
              Resource: `arn:aws:s3:::${drop}/in/*`,
            },
          ],
        }),
      }),
    );
    assert.equal((await post(anonymous('in/a'), `/${drop}`)).status, 204, 'anonymous into in/');
    if (other)
      assert.equal((await post(signedBy(other, 'in/b'), `/${drop}`)).status, 204, 'another key into in/');
    await denied(anonymous('out/c'), 'anonymous outside in/');
    const head = await s3.send(new HeadObjectCommand({ Bucket: drop, Key: 'in/a' }));
    assert.equal(head.ContentLength, 1);
  });

  test('the acl field sets the object ACL (public-read is readable by anyone); BlockPublicAcls refuses it', {
    timeout: 60_000,
  }, async () => {
    const key = 'acl/public.txt';
    const form = (k: string) =>
      browserForm(
        [
          ['key', k],
          ['acl', 'public-read'],
          ...signedPolicyFields({
            creds: target.creds,
            region: target.region,
            conditions: [{ bucket }, { key: k }, { acl: 'public-read' }],
          }),
        ],
        file('public body'),
      );
    assert.equal((await post(form(key))).status, 204);
    const got = await sendRaw(target, { method: 'GET', path: `/${bucket}/${key}` });
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'public body');
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucket,
        PublicAccessBlockConfiguration: { BlockPublicAcls: true },
      }),
    );
    try {
      const refused = await post(form('acl/blocked.txt'));
      assert.equal(refused.status, 403);
      assert.equal(errorCode(refused.body), 'AccessDenied');
      await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'acl/blocked.txt' })), {
        code: 'NotFound',
        status: 404,
      });
    } finally {
      await s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    }
  });

  test('bounded reading: 64 KiB of fields at most; without Content-Length a file over 1 MiB is 411', {
    timeout: 60_000,
  }, async () => {
    const big = await post(
      browserForm(
        [
          ['key', 'k'],
          ['x-ignore-padding', 'p'.repeat(70_000)],
        ],
        file('a'),
      ),
    );
    assert.equal(big.status, 400);
    assert.equal(errorCode(big.body), 'MaxPostPreDataLengthExceeded');
    const fields: Array<[string, string]> = [
      ['key', 'chunked.bin'],
      ...policy([{ bucket }, { key: 'chunked.bin' }]),
    ];
    const chunked = (data: Buffer) => {
      const form = browserForm(fields, file(data));
      return new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: target.port,
            method: 'POST',
            path: `/${bucket}`,
            headers: { 'content-type': form.contentType, 'transfer-encoding': 'chunked' },
          },
          (r) => {
            let body = '';
            r.on('data', (c: Buffer) => (body += c.toString()));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        for (let at = 0; at < form.body.length; at += 64 * 1024)
          req.write(form.body.subarray(at, at + 64 * 1024));
        req.end();
      });
    };
    const small = await chunked(seededBytes(3, 100_000));
    assert.equal(small.status, 204, `a small file needs no Content-Length: ${small.body}`);
    const large = await chunked(seededBytes(4, 2 * MiB));
    assert.equal(large.status, 411, large.body);
    assert.equal(errorCode(Buffer.from(large.body)), 'MissingContentLength');
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'chunked.bin' }));
    assert.equal(head.ContentLength, 100_000, 'the refused upload left the earlier object alone');
  });

  test('a large file in a form that does not end as browsers end it is refused cleanly, nothing stored', {
    timeout: 60_000,
  }, async () => {
    const key = 'large-odd.bin';
    const fields: Array<[string, string]> = [['key', key], ...policy([{ bucket }, { key }])];
    const data = seededBytes(9, 2 * MiB);
    const normal = browserForm(fields, file(data));
    const noFinalCrlf = { ...normal, body: normal.body.subarray(0, normal.body.length - 2) };
    const longEpilogue = { ...normal, body: Buffer.concat([normal.body, Buffer.from('epilogue\r\n')]) };
    const fieldAfter = browserForm(fields, file(data), [['x-ignore-late', '1']]);
    for (const [what, form] of [
      ['no CRLF after the closing boundary', noFinalCrlf],
      ['an epilogue', longEpilogue],
      ['a field after the file', fieldAfter],
    ] as const) {
      const res = await post(form);
      assert.equal(res.status, 400, `${what}: ${res.body}`);
      assert.equal(errorCode(res.body), 'MalformedPOSTRequest', what);
    }
    await absent(key);
    assert.equal((await post(normal)).status, 204, 'the same file in a browser-shaped form');
  });

  test('signature version 2 forms (AWSAccessKeyId, signature = HMAC-SHA1 of the policy)', {
    timeout: 60_000,
  }, async () => {
    const key = 'v2/form.txt';
    const b64 = Buffer.from(
      JSON.stringify({
        expiration: new Date(Date.now() + 600_000).toISOString(),
        conditions: [{ bucket }, { key }],
      }),
    ).toString('base64');
    const sign = (secret: string) => createHmac('sha1', secret).update(b64).digest('base64');
    const form = (signature: string) =>
      browserForm(
        [
          ['key', key],
          ['AWSAccessKeyId', target.creds.accessKeyId],
          ['policy', b64],
          ['signature', signature],
        ],
        file('v2'),
      );
    const bad = await post(form(sign('not-the-secret')));
    assert.equal(bad.status, 403, bad.body.toString());
    assert.equal(errorCode(bad.body), 'SignatureDoesNotMatch');
    await absent(key);
    const ok = await post(form(sign(target.creds.secretAccessKey)));
    assert.equal(ok.status, 204, ok.body.toString());
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal((await readBody(got.Body)).toString(), 'v2');
  });

  test('in a versioned bucket each upload is a new version, named in x-amz-version-id', {
    timeout: 60_000,
  }, async () => {
    const vb = uniqueBucket('postver');
    await s3.send(new CreateBucketCommand({ Bucket: vb }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: vb, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const key = 'doc.txt';
    const upload = async (body: string) => {
      const form = browserForm(
        [
          ['key', key],
          ...signedPolicyFields({
            creds: target.creds,
            region: target.region,
            conditions: [{ bucket: vb }, { key }],
          }),
        ],
        file(body),
      );
      const res = await post(form, `/${vb}`);
      assert.equal(res.status, 204, res.body.toString());
      assert.ok(res.headers['x-amz-version-id'], 'a version id');
      return String(res.headers['x-amz-version-id']);
    };
    const v1 = await upload('one');
    const v2 = await upload('two');
    assert.notEqual(v1, v2);
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: vb }));
    assert.deepEqual(listed.Versions?.map((v) => v.VersionId).sort(), [v1, v2].sort());
    const old = await s3.send(new GetObjectCommand({ Bucket: vb, Key: key, VersionId: v1 }));
    assert.equal((await readBody(old.Body)).toString(), 'one');
  });

  test('a policy signed over invalid JSON is InvalidPolicyDocument', { timeout: 30_000 }, async () => {
    const fields = policy([{ bucket }]);
    const secretKey = (() => {
      const day = fields.find(([n]) => n === 'x-amz-date')![1].slice(0, 8);
      const h = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
      return h(h(h(h(`AWS4${target.creds.secretAccessKey}`, day), target.region), 's3'), 'aws4_request');
    })();
    const broken = Buffer.from('{"expiration": "2030-01-01T00:00:00Z", "conditions": [').toString('base64');
    const signature = createHmac('sha256', secretKey).update(broken).digest('hex');
    const resigned = fields.map(([n, v]): [string, string] =>
      n === 'policy' ? [n, broken] : n === 'x-amz-signature' ? [n, signature] : [n, v],
    );
    const res = await post(browserForm([['key', 'bad-policy'], ...resigned], file('a')));
    assert.equal(res.status, 400, res.body.toString());
    assert.equal(errorCode(res.body), 'InvalidPolicyDocument');
    await absent('bad-policy');
  });

  test('curl -F posts a file the same way', { timeout: 60_000 }, async (t) => {
    const skip = await skipUnlessInstalled('curl');
    if (skip) return t.skip(skip);
    const path = join(tmpdir(), `quire-post-${process.pid}.txt`);
    writeFileSync(path, 'from curl\n');
    try {
      const fields = [
        ['key', `curl/${FILENAME}`],
        ...policy([{ bucket }, ['starts-with', '$key', 'curl/'], { success_action_status: '201' }]),
        ['success_action_status', '201'],
      ];
      const args = ['-s', '-o', '-', '-w', '\n%{http_code}'];
      for (const [n, v] of fields) args.push('-F', `${n}=${v}`);
      args.push('-F', `file=@${path};type=text/plain`, `http://127.0.0.1:${target.port}/${bucket}`);
      const res = await run('curl', args, { PATH: process.env.PATH });
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /201$/, res.stdout);
      const got = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: `curl/quire-post-${process.pid}.txt` }),
      );
      assert.equal((await readBody(got.Body)).toString(), readFileSync(path, 'utf8'));
    } finally {
      rmSync(path, { force: true });
    }
  });
});

describe('POST Object with --no-sigv2', { skip: isExternal() ? 'needs its own server' : false }, () => {
  let target: Target;
  before(async () => {
    target = await startTarget({ env: { QUIRE_SIGV2: 'false' } });
  });
  after(async () => {
    await target?.close();
  });

  test('a signature version 2 form is refused (400 InvalidRequest); SigV4 forms still work', {
    timeout: 60_000,
  }, async () => {
    const s3 = s3For(target);
    const bucket = uniqueBucket('nov2');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const b64 = Buffer.from(
      JSON.stringify({ expiration: new Date(Date.now() + 600_000).toISOString(), conditions: [{ bucket }] }),
    ).toString('base64');
    const v2 = browserForm(
      [
        ['key', 'k'],
        ['AWSAccessKeyId', target.creds.accessKeyId],
        ['policy', b64],
        ['signature', createHmac('sha1', target.creds.secretAccessKey).update(b64).digest('base64')],
      ],
      { filename: 'f', contentType: 'text/plain', data: Buffer.from('x') },
    );
    const send = (form: { contentType: string; body: Buffer }) =>
      sendRaw(target, {
        method: 'POST',
        path: `/${bucket}`,
        headers: { 'content-type': form.contentType },
        body: form.body,
      });
    const refused = await send(v2);
    assert.equal(refused.status, 400, refused.body.toString());
    assert.equal(errorCode(refused.body), 'InvalidRequest');
    const v4 = browserForm(
      [
        ['key', 'k'],
        ...signedPolicyFields({
          creds: target.creds,
          region: target.region,
          conditions: [{ bucket }, { key: 'k' }],
        }),
      ],
      { filename: 'f', contentType: 'text/plain', data: Buffer.from('x') },
    );
    assert.equal((await send(v4)).status, 204);
    s3.destroy();
  });
});

describe('POST Object: a large file streams to storage in bounded memory', {
  skip: process.platform !== 'linux',
}, () => {
  let target: Target;
  before(async () => {
    target = await startTarget();
  });
  after(async () => {
    await target?.close();
  });

  test('256 MiB posted; server peak RSS grows by far less than the file', { timeout: 300_000 }, async () => {
    const s3 = s3For(target);
    const bucket = uniqueBucket('postbig');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const size = 256 * MiB;
    const chunk = seededBytes(7, MiB);
    const md5 = createHash('md5');
    for (let i = 0; i < size / MiB; i++) md5.update(chunk);
    const fields = signedPolicyFields({
      creds: target.creds,
      region: target.region,
      conditions: [{ bucket }, { key: 'big.bin' }, ['content-length-range', 0, size]],
    });
    const head = browserForm([['key', 'big.bin'], ...fields], {
      filename: 'big.bin',
      contentType: 'application/octet-stream',
      data: Buffer.alloc(0),
    });
    // Split the browser form around its (empty) file data and stream the data in between.
    const text = head.body.toString('latin1');
    const cut = text.lastIndexOf('\r\n--');
    const prefix = head.body.subarray(0, cut);
    const suffix = head.body.subarray(cut);
    const pid = target.pid()!;
    const status = () => readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status())?.[1]) * 1024;
    const rssBefore = kib('VmRSS');
    const res = await new Promise<{ status: number; etag: string | undefined; body: string }>(
      (resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: target.port,
            method: 'POST',
            path: `/${bucket}`,
            headers: {
              'content-type': head.contentType,
              'content-length': String(prefix.length + size + suffix.length),
            },
          },
          (r) => {
            let body = '';
            r.on('data', (c: Buffer) => (body += c.toString()));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, etag: r.headers.etag, body }));
          },
        );
        req.on('error', reject);
        let sent = 0;
        const pump = () => {
          while (sent < size) {
            sent += MiB;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end(suffix);
        };
        req.write(prefix);
        pump();
      },
    );
    assert.equal(res.status, 204, res.body);
    assert.equal(res.etag, `"${md5.digest('hex')}"`);
    const peak = kib('VmHWM');
    assert.ok(
      peak - rssBefore < 96 * MiB,
      `peak ${Math.round(peak / MiB)} MiB from ${Math.round(rssBefore / MiB)} MiB`,
    );
    const stored = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
    assert.equal(stored.ContentLength, size);
    s3.destroy();
  });
});
