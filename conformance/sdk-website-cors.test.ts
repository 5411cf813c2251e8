// Put/Get/DeleteBucketWebsite and Put/Get/DeleteBucketCors through the SDK (shapes round-trip, AWS's errors),
// x-amz-website-redirect-location stored with objects, CORS preflights and response headers on the API port.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCorsCommand,
  DeleteBucketWebsiteCommand,
  GetBucketCorsCommand,
  GetBucketWebsiteCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  PutBucketWebsiteCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  type WebsiteConfiguration,
} from '@aws-sdk/client-s3';
import { errorCode, keyPath, sendRaw, signedRaw } from './raw.ts';
import { expectS3Error, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const T = { timeout: 60_000 };

describe('sdk: bucket website and CORS configuration', () => {
  let target: Target;
  let s3: S3Client;
  let other: S3Client;
  let bucket: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    other = s3For(target, target.otherCreds ?? target.creds);
    bucket = uniqueBucket('webcfg');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    other?.destroy();
    await target?.close();
  });

  const putWebsite = (config: WebsiteConfiguration, b = bucket) =>
    s3.send(new PutBucketWebsiteCommand({ Bucket: b, WebsiteConfiguration: config }));

  test('website: none, put, get round-trips every element, delete (twice), none again', T, async () => {
    await expectS3Error(s3.send(new GetBucketWebsiteCommand({ Bucket: bucket })), {
      code: 'NoSuchWebsiteConfiguration',
      status: 404,
    });
    const config: WebsiteConfiguration = {
      IndexDocument: { Suffix: 'index.html' },
      ErrorDocument: { Key: 'errors/404.html' },
      RoutingRules: [
        {
          Condition: { KeyPrefixEquals: 'docs/' },
          Redirect: { ReplaceKeyPrefixWith: 'documents/', HttpRedirectCode: '302' },
        },
        {
          Condition: { HttpErrorCodeReturnedEquals: '404', KeyPrefixEquals: 'old/' },
          Redirect: { HostName: 'example.com', Protocol: 'https', ReplaceKeyWith: 'gone.html' },
        },
      ],
    };
    const put = await putWebsite(config);
    assert.equal(put.$metadata.httpStatusCode, 200);
    const got = await s3.send(new GetBucketWebsiteCommand({ Bucket: bucket }));
    assert.deepEqual(got.IndexDocument, config.IndexDocument);
    assert.deepEqual(got.ErrorDocument, config.ErrorDocument);
    assert.deepEqual(got.RoutingRules, config.RoutingRules);
    assert.equal(got.RedirectAllRequestsTo, undefined);

    await putWebsite({ RedirectAllRequestsTo: { HostName: 'www.example.com', Protocol: 'https' } });
    const all = await s3.send(new GetBucketWebsiteCommand({ Bucket: bucket }));
    assert.deepEqual(all.RedirectAllRequestsTo, { HostName: 'www.example.com', Protocol: 'https' });
    assert.equal(all.IndexDocument, undefined, 'a put replaces the whole configuration');

    for (let i = 0; i < 2; i++) {
      const del = await s3.send(new DeleteBucketWebsiteCommand({ Bucket: bucket }));
      assert.equal(del.$metadata.httpStatusCode, 204);
    }
    await expectS3Error(s3.send(new GetBucketWebsiteCommand({ Bucket: bucket })), {
      code: 'NoSuchWebsiteConfiguration',
      status: 404,
    });
  });

  test('website: invalid configurations are refused with AWS codes, the old one stays', T, async () => {
    await putWebsite({ IndexDocument: { Suffix: 'index.html' } });
    const cases: Array<[string, WebsiteConfiguration, string]> = [
      ['no index, no redirect', { ErrorDocument: { Key: 'e.html' } }, 'InvalidArgument'],
      ['suffix with a slash', { IndexDocument: { Suffix: 'a/index.html' } }, 'InvalidArgument'],
      ['empty suffix', { IndexDocument: { Suffix: '' } }, 'InvalidArgument'],
      [
        'redirect-all with an index',
        { RedirectAllRequestsTo: { HostName: 'x.com' }, IndexDocument: { Suffix: 'i.html' } },
        'InvalidArgument',
      ],
      [
        'redirect code 300',
        { IndexDocument: { Suffix: 'i' }, RoutingRules: [{ Redirect: { HttpRedirectCode: '300' } }] },
        'InvalidRequest',
      ],
      [
        'error code 200',
        {
          IndexDocument: { Suffix: 'i' },
          RoutingRules: [{ Condition: { HttpErrorCodeReturnedEquals: '200' }, Redirect: { HostName: 'x' } }],
        },
        'InvalidRequest',
      ],
      [
        'both key replacements',
        {
          IndexDocument: { Suffix: 'i' },
          RoutingRules: [{ Redirect: { ReplaceKeyWith: 'a', ReplaceKeyPrefixWith: 'b/' } }],
        },
        'InvalidRequest',
      ],
      [
        'empty condition',
        { IndexDocument: { Suffix: 'i' }, RoutingRules: [{ Condition: {}, Redirect: { HostName: 'x' } }] },
        'InvalidRequest',
      ],
      [
        'bad protocol',
        {
          IndexDocument: { Suffix: 'i' },
          RoutingRules: [{ Redirect: { Protocol: 'ftp' as 'http', HostName: 'x' } }],
        },
        'InvalidRequest',
      ],
      [
        '51 rules',
        {
          IndexDocument: { Suffix: 'i' },
          RoutingRules: Array.from({ length: 51 }, () => ({ Redirect: { HostName: 'x' } })),
        },
        'InvalidRequest',
      ],
    ];
    for (const [what, config, code] of cases) {
      await expectS3Error(putWebsite(config), { code, status: 400 }, what);
    }
    const still = await s3.send(new GetBucketWebsiteCommand({ Bucket: bucket }));
    assert.deepEqual(still.IndexDocument, { Suffix: 'index.html' });
  });

  test('website and CORS: malformed XML, unknown bucket, another owner', T, async () => {
    for (const sub of ['website', 'cors']) {
      const bad = await signedRaw(target, {
        method: 'PUT',
        path: `/${bucket}`,
        query: { [sub]: '' },
        body: Buffer.from(sub === 'website' ? '<WebsiteConfiguration><Nope/>' : '<CORSConfiguration/>'),
      });
      assert.equal(bad.status, 400, `${sub}: ${bad.body}`);
      assert.equal(errorCode(bad.body), 'MalformedXML');
    }
    await expectS3Error(s3.send(new GetBucketWebsiteCommand({ Bucket: uniqueBucket('none') })), {
      code: 'NoSuchBucket',
      status: 404,
    });
    await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: uniqueBucket('none') })), {
      code: 'NoSuchBucket',
      status: 404,
    });
    if (target.otherCreds) {
      await expectS3Error(other.send(new GetBucketWebsiteCommand({ Bucket: bucket })), {
        code: 'AccessDenied',
        status: 403,
      });
      await expectS3Error(
        other.send(
          new PutBucketCorsCommand({
            Bucket: bucket,
            CORSConfiguration: { CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['*'] }] },
          }),
        ),
        { code: 'AccessDenied', status: 403 },
      );
    }
  });

  test('CORS: none, put, get round-trips, delete, none again', T, async () => {
    const b = uniqueBucket('corscfg');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: b })), {
      code: 'NoSuchCORSConfiguration',
      status: 404,
    });
    const rules = [
      {
        ID: 'uploads',
        AllowedHeaders: ['content-type', 'x-amz-*'],
        AllowedMethods: ['PUT', 'POST'],
        AllowedOrigins: ['https://app.example.com', 'https://*.example.org'],
        ExposeHeaders: ['ETag', 'x-amz-request-id'],
        MaxAgeSeconds: 600,
      },
      { AllowedMethods: ['GET', 'HEAD'], AllowedOrigins: ['*'] },
    ];
    const put = await s3.send(
      new PutBucketCorsCommand({ Bucket: b, CORSConfiguration: { CORSRules: rules } }),
    );
    assert.equal(put.$metadata.httpStatusCode, 200);
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: b }));
    assert.deepEqual(got.CORSRules, rules);
    const del = await s3.send(new DeleteBucketCorsCommand({ Bucket: b }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new GetBucketCorsCommand({ Bucket: b })), {
      code: 'NoSuchCORSConfiguration',
      status: 404,
    });
  });

  test('CORS: bad rules are InvalidRequest or MalformedXML', T, async () => {
    const put = (CORSRules: unknown[]) =>
      s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules } as never }));
    await expectS3Error(put([{ AllowedMethods: ['PATCH'], AllowedOrigins: ['*'] }]), {
      code: 'InvalidRequest',
      status: 400,
    });
    await expectS3Error(put([{ AllowedMethods: ['GET'], AllowedOrigins: ['https://*.*.example.com'] }]), {
      code: 'InvalidRequest',
      status: 400,
    });
    await expectS3Error(put([{ AllowedMethods: ['GET'], AllowedOrigins: ['*'], AllowedHeaders: ['*-*'] }]), {
      code: 'InvalidRequest',
      status: 400,
    });
    await expectS3Error(put([{ AllowedMethods: ['GET'], AllowedOrigins: [] }]), {
      code: 'MalformedXML',
      status: 400,
    });
    await expectS3Error(put([]), { code: 'MalformedXML', status: 400 });
    await expectS3Error(
      put(Array.from({ length: 101 }, () => ({ AllowedMethods: ['GET'], AllowedOrigins: ['*'] }))),
      { code: 'MalformedXML', status: 400 },
    );
  });

  test('CORS: preflights answered by the first matching rule, unsigned; 403/400 as AWS', T, async () => {
    const b = uniqueBucket('preflight');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const preflight = (path: string, headers: Record<string, string>) =>
      sendRaw(target, { method: 'OPTIONS', path, headers });
    const off = await preflight(`/${b}/k`, {
      origin: 'https://a.example',
      'access-control-request-method': 'GET',
    });
    assert.equal(off.status, 403);
    assert.equal(errorCode(off.body), 'AccessForbidden');
    assert.match(off.body.toString(), /CORS is not enabled for this bucket/);
    assert.match(off.body.toString(), /<ResourceType>OBJECT<\/ResourceType>/);

    await s3.send(
      new PutBucketCorsCommand({
        Bucket: b,
        CORSConfiguration: {
          CORSRules: [
            {
              AllowedMethods: ['PUT'],
              AllowedOrigins: ['https://*.example.com'],
              AllowedHeaders: ['content-type', 'x-amz-meta-*'],
              ExposeHeaders: ['ETag'],
              MaxAgeSeconds: 300,
            },
            { AllowedMethods: ['GET'], AllowedOrigins: ['*'] },
          ],
        },
      }),
    );
    const put = await preflight(`/${b}/k`, {
      origin: 'https://app.example.com',
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'Content-Type, X-Amz-Meta-Color',
    });
    assert.equal(put.status, 200, put.body.toString());
    assert.equal(put.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(put.headers['access-control-allow-methods'], 'PUT');
    assert.equal(put.headers['access-control-allow-headers'], 'content-type, x-amz-meta-color');
    assert.equal(put.headers['access-control-expose-headers'], 'ETag');
    assert.equal(put.headers['access-control-max-age'], '300');
    assert.equal(put.headers['access-control-allow-credentials'], 'true');
    assert.match(String(put.headers.vary), /Origin/);

    const get = await preflight(`/${b}`, {
      origin: 'http://else.net',
      'access-control-request-method': 'GET',
    });
    assert.equal(get.status, 200);
    assert.equal(get.headers['access-control-allow-origin'], '*');
    assert.equal(get.headers['access-control-allow-credentials'], undefined);

    const refused: Array<Record<string, string>> = [
      { origin: 'https://app.example.com', 'access-control-request-method': 'DELETE' },
      { origin: 'https://example.com', 'access-control-request-method': 'PUT' },
      {
        origin: 'https://app.example.com',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'x-secret',
      },
    ];
    for (const headers of refused) {
      const res = await preflight(`/${b}/k`, headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(errorCode(res.body), 'AccessForbidden');
    }
    const noOrigin = await preflight(`/${b}/k`, { 'access-control-request-method': 'GET' });
    assert.equal(noOrigin.status, 400);
    assert.equal(errorCode(noOrigin.body), 'BadRequest');
    const noMethod = await preflight(`/${b}/k`, { origin: 'https://a.example.com' });
    assert.equal(noMethod.status, 400);
    assert.equal(errorCode(noMethod.body), 'BadRequest');
  });

  test(
    'CORS: actual responses carry Access-Control-* and Vary, errors included; none without Origin',
    T,
    async () => {
      const b = uniqueBucket('corsget');
      await s3.send(new CreateBucketCommand({ Bucket: b }));
      await s3.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: 'hello' }));
      await s3.send(
        new PutBucketCorsCommand({
          Bucket: b,
          CORSConfiguration: {
            CORSRules: [
              {
                AllowedMethods: ['GET', 'HEAD'],
                AllowedOrigins: ['https://site.example'],
                ExposeHeaders: ['ETag'],
              },
            ],
          },
        }),
      );
      const get = (key: string, headers: Record<string, string>) =>
        signedRaw(target, { method: 'GET', path: keyPath(b, key), headers });
      const ok = await get('k', { origin: 'https://site.example' });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['access-control-allow-origin'], 'https://site.example');
      assert.equal(ok.headers['access-control-allow-methods'], 'GET, HEAD');
      assert.equal(ok.headers['access-control-expose-headers'], 'ETag');
      assert.equal(ok.headers['access-control-allow-credentials'], 'true');
      assert.equal(ok.headers.vary, 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');

      const missing = await get('nope', { origin: 'https://site.example' });
      assert.equal(missing.status, 404);
      assert.equal(
        missing.headers['access-control-allow-origin'],
        'https://site.example',
        'errors carry CORS',
      );

      const stranger = await get('k', { origin: 'https://evil.example' });
      assert.equal(stranger.status, 200);
      assert.equal(stranger.headers['access-control-allow-origin'], undefined);
      assert.match(String(stranger.headers.vary), /Origin/);

      const plain = await get('k', {});
      assert.equal(plain.headers['access-control-allow-origin'], undefined);
      assert.equal(plain.headers.vary, undefined);
    },
  );

  test(
    'x-amz-website-redirect-location: stored by PUT and multipart, shown by HEAD, validated',
    T,
    async () => {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'moved',
          Body: '',
          WebsiteRedirectLocation: '/new-place',
        }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'moved' }));
      assert.equal(head.WebsiteRedirectLocation, '/new-place');
      assert.deepEqual(head.Metadata, {}, 'not user metadata');

      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: 'mpu-moved',
          WebsiteRedirectLocation: 'https://example.com/x',
        }),
      );
      const part = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: 'mpu-moved', UploadId, PartNumber: 1, Body: 'abc' }),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'mpu-moved',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      const mhead = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mpu-moved' }));
      assert.equal(mhead.WebsiteRedirectLocation, 'https://example.com/x');

      // CopyObject never copies the source's redirect (as AWS): the copy has the one its request names, if any.
      await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copied', CopySource: `${bucket}/moved` }));
      const copied = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copied' }));
      assert.equal(copied.WebsiteRedirectLocation, undefined);
      await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'moved',
          CopySource: `${bucket}/moved`,
          WebsiteRedirectLocation: '/elsewhere',
        }),
      );
      const self = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'moved' }));
      assert.equal(
        self.WebsiteRedirectLocation,
        '/elsewhere',
        'a copy onto itself may change only the redirect',
      );
      await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'replaced',
          CopySource: `${bucket}/moved`,
          MetadataDirective: 'REPLACE',
          WebsiteRedirectLocation: 'http://example.net/',
        }),
      );
      const replaced = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'replaced' }));
      assert.equal(replaced.WebsiteRedirectLocation, 'http://example.net/');
      await expectS3Error(
        s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'bad', Body: '', WebsiteRedirectLocation: 'ftp://x' }),
        ),
        { code: 'InvalidArgument', status: 400 },
      );
    },
  );
});
