// The website endpoint over raw HTTP: bucket from the Host (`<bucket>.<domain>` or a custom domain that is a
// bucket's name), HTML error pages (never XML), GET/HEAD only, redirects (all requests, routing rules by key
// prefix), no S3 API on that port, private objects refused, CORS there too.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutBucketCorsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutBucketWebsiteCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
  type WebsiteConfiguration,
} from '@aws-sdk/client-s3';
import { signRaw } from './raw.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

export const WEBSITE_DOMAIN = 's3-website.localhost';

export interface SiteResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to the website port of 127.0.0.1 with the given Host (as a browser behind DNS would send). */
export function siteRequest(
  target: Target,
  host: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<SiteResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: target.websitePort!,
        method: opts.method ?? 'GET',
        path,
        headers: { host: `${host}:${target.websitePort}`, ...opts.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Asserts an AWS-style HTML error page with this status and code. */
export function assertErrorPage(res: SiteResponse, status: number, code: string, what = ''): void {
  assert.equal(res.status, status, `${what}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /^text\/html/, what);
  assert.match(res.body, /^<html>/, what);
  assert.match(res.body, new RegExp(`<li>Code: ${code}</li>`), `${what}: ${res.body}`);
  assert.doesNotMatch(res.body, /<\?xml/, what);
}

describe('website endpoint', {
  skip: process.env.QUIRE_S3_ENDPOINT && !process.env.QUIRE_S3_WEBSITE_PORT ? 'no website port' : false,
}, () => {
  let target: Target;
  let s3: S3Client;
  const site = (bucket: string) => `${bucket}.${WEBSITE_DOMAIN}`;
  const website = (Bucket: string, WebsiteConfiguration: WebsiteConfiguration) =>
    s3.send(new PutBucketWebsiteCommand({ Bucket, WebsiteConfiguration }));
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('unknown bucket, bucket without a website: 404 HTML pages', { timeout: 30_000 }, async () => {
    const none = await siteRequest(target, site(uniqueBucket('nobucket')), '/');
    assertErrorPage(none, 404, 'NoSuchBucket', 'unknown bucket');
    const bucket = uniqueBucket('nosite');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const plain = await siteRequest(target, site(bucket), '/index.html');
    assertErrorPage(plain, 404, 'NoSuchWebsiteConfiguration', 'no website configuration');
    assert.match(plain.body, new RegExp(`<li>BucketName: ${bucket}</li>`));
    const head = await siteRequest(target, site(bucket), '/', { method: 'HEAD' });
    assert.equal(head.status, 404);
    assert.equal(head.body, '', 'HEAD has no body');
    assert.equal(head.headers['x-amz-error-code'], 'NoSuchWebsiteConfiguration');
    assert.equal(
      head.headers['x-amz-error-message'],
      'The specified bucket does not have a website configuration',
    );
  });

  test('only GET and HEAD (and CORS preflights): other methods are 405, no S3 API here', {
    timeout: 30_000,
  }, async () => {
    const bucket = uniqueBucket('methods');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await website(bucket, { IndexDocument: { Suffix: 'index.html' } });
    for (const method of ['PUT', 'POST', 'DELETE', 'PATCH']) {
      const res = await siteRequest(target, site(bucket), '/x', { method });
      assertErrorPage(res, 405, 'MethodNotAllowed', method);
      assert.match(res.body, new RegExp(`<li>Method: ${method}</li>`));
    }
    // A sub-resource query is no API call here: it is ignored, so the index document is what is asked for.
    for (const path of ['/?website', '/?list-type=2', '/?acl']) {
      const res = await siteRequest(target, site(bucket), path);
      assert.match(String(res.headers['content-type']), /^text\/html/, path);
      assert.doesNotMatch(res.body, /<\?xml/, path);
    }
  });

  test('a private object is 403 AccessDenied, even with a valid signature; the error document too', {
    timeout: 30_000,
  }, async () => {
    const bucket = uniqueBucket('private');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'index.html', Body: '<h1>secret</h1>' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'err.html', Body: 'oops' }));
    await website(bucket, { IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: 'err.html' } });
    const res = await siteRequest(target, site(bucket), '/');
    assertErrorPage(res, 403, 'AccessDenied', 'private index');
    assert.doesNotMatch(res.body, /secret/);
    assert.match(res.body, /An Error Occurred While Attempting to Retrieve a Custom Error Document/);
    const signed = await signRaw(target, { method: 'GET', path: '/index.html' });
    const withAuth = await siteRequest(target, site(bucket), '/index.html', {
      headers: { authorization: signed.headers.authorization!, 'x-amz-date': signed.headers['x-amz-date']! },
    });
    assertErrorPage(withAuth, 403, 'AccessDenied', 'a signature grants nothing on the website endpoint');
  });

  test('RedirectAllRequestsTo: 301 to the host and protocol, path kept', { timeout: 30_000 }, async () => {
    const bucket = uniqueBucket('moved');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await website(bucket, { RedirectAllRequestsTo: { HostName: 'www.example.com', Protocol: 'https' } });
    const res = await siteRequest(target, site(bucket), '/blog/post%201.html');
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, 'https://www.example.com/blog/post%201.html');
    await website(bucket, { RedirectAllRequestsTo: { HostName: 'example.org' } });
    const http = await siteRequest(target, site(bucket), '/');
    assert.equal(http.headers.location, 'http://example.org/');
  });

  test('routing rules on a key prefix: replace prefix or key, host, protocol, code', {
    timeout: 30_000,
  }, async () => {
    const bucket = uniqueBucket('rules');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await website(bucket, {
      IndexDocument: { Suffix: 'index.html' },
      RoutingRules: [
        { Condition: { KeyPrefixEquals: 'docs/' }, Redirect: { ReplaceKeyPrefixWith: 'documents/' } },
        {
          Condition: { KeyPrefixEquals: 'old' },
          Redirect: {
            ReplaceKeyWith: 'new.html',
            HttpRedirectCode: '302',
            HostName: 'example.com',
            Protocol: 'https',
          },
        },
      ],
    });
    const docs = await siteRequest(target, site(bucket), '/docs/a%20b.html');
    assert.equal(docs.status, 301);
    assert.equal(docs.headers.location, `http://${site(bucket)}:${target.websitePort}/documents/a%20b.html`);
    const old = await siteRequest(target, site(bucket), '/old/page');
    assert.equal(old.status, 302);
    assert.equal(old.headers.location, 'https://example.com/new.html');
    const other = await siteRequest(target, site(bucket), '/else');
    assert.notEqual(other.status, 301, 'no rule for other keys');
  });

  test('a custom domain that is a bucket name selects that bucket', { timeout: 30_000 }, async () => {
    const bucket = `www.${uniqueBucket('custom')}.example`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await website(bucket, { RedirectAllRequestsTo: { HostName: 'target.example' } });
    const res = await siteRequest(target, bucket, '/x');
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, 'http://target.example/x');
    const unknown = await siteRequest(target, 'not-a-bucket.example', '/');
    assertErrorPage(unknown, 404, 'NoSuchBucket', 'a host that names no bucket');
  });

  test('CORS on the website port: preflight and response headers', { timeout: 30_000 }, async () => {
    const bucket = uniqueBucket('sitecors');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await website(bucket, { RedirectAllRequestsTo: { HostName: 'example.org' } });
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: bucket,
        CORSConfiguration: {
          CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['https://*.example.com'] }],
        },
      }),
    );
    const pre = await siteRequest(target, site(bucket), '/a.js', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    assert.equal(pre.status, 200, pre.body);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
    const refused = await siteRequest(target, site(bucket), '/a.js', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    assertErrorPage(refused, 403, 'AccessForbidden', 'preflight refused');
    const get = await siteRequest(target, site(bucket), '/a.js', {
      headers: { origin: 'https://app.example.com' },
    });
    assert.equal(get.status, 301);
    assert.equal(get.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(String(get.headers.vary), /Origin/);
  });

  /** Anyone may read the objects; with `list`, anyone may list too (then a missing key is 404, not 403). */
  const makePublic = (bucket: string, list: boolean) =>
    s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
            ...(list
              ? [
                  {
                    Effect: 'Allow',
                    Principal: '*',
                    Action: 's3:ListBucket',
                    Resource: `arn:aws:s3:::${bucket}`,
                  },
                ]
              : []),
          ],
        }),
      }),
    );
  const put = (Bucket: string, Key: string, Body: string, extra: Record<string, string> = {}) =>
    s3.send(new PutObjectCommand({ Bucket, Key, Body, ContentType: 'text/html', ...extra }));

  test('a public site: index documents, dir redirect, error document with its status, HEAD', {
    timeout: 30_000,
  }, async () => {
    const bucket = uniqueBucket('public');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await put(bucket, 'index.html', 'home');
    await put(bucket, 'docs/index.html', 'docs home');
    await put(bucket, 'docs/a.html', 'page a');
    await put(bucket, 'errors/404.html', 'custom not found');
    await website(bucket, {
      IndexDocument: { Suffix: 'index.html' },
      ErrorDocument: { Key: 'errors/404.html' },
    });
    await makePublic(bucket, true);
    const home = await siteRequest(target, site(bucket), '/');
    assert.equal(home.status, 200);
    assert.equal(home.body, 'home');
    assert.equal(home.headers['content-type'], 'text/html');
    assert.ok(home.headers.etag);
    const docs = await siteRequest(target, site(bucket), '/docs/');
    assert.equal(docs.body, 'docs home');
    const dir = await siteRequest(target, site(bucket), '/docs');
    assert.equal(dir.status, 302);
    assert.equal(dir.headers.location, '/docs/');
    const page = await siteRequest(target, site(bucket), '/docs/a.html?ignored=1');
    assert.equal(page.body, 'page a');
    const missing = await siteRequest(target, site(bucket), '/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body, 'custom not found');
    const emptyDir = await siteRequest(target, site(bucket), '/nodir/');
    assert.equal(emptyDir.status, 404);
    assert.equal(emptyDir.body, 'custom not found');
    const head = await siteRequest(target, site(bucket), '/docs/a.html', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '6');
    assert.equal(head.body, '');
    assert.equal(
      missing.headers['x-amz-error-code'],
      'NoSuchKey',
      'the error document says the error in headers',
    );
    const headMissing = await siteRequest(target, site(bucket), '/nope', { method: 'HEAD' });
    assert.equal(headMissing.status, 404);
    assert.equal(headMissing.body, '');
    assert.equal(headMissing.headers['x-amz-error-code'], 'NoSuchKey');
    assert.equal(headMissing.headers['x-amz-error-detail-key'], 'nope');
  });

  test('without public listing a missing page is 403 (as AWS), the error document served with 403', {
    timeout: 30_000,
  }, async () => {
    const bucket = uniqueBucket('nolist');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await put(bucket, 'index.html', 'home');
    await put(bucket, 'err.html', 'sorry');
    await website(bucket, { IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: 'err.html' } });
    await makePublic(bucket, false);
    const missing = await siteRequest(target, site(bucket), '/nope');
    assert.equal(missing.status, 403);
    assert.equal(missing.body, 'sorry');
    await website(bucket, { IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: 'gone.html' } });
    const noDoc = await siteRequest(target, site(bucket), '/nope');
    assertErrorPage(noDoc, 403, 'AccessDenied', 'error document missing too');
    assert.match(noDoc.body, /An Error Occurred While Attempting to Retrieve a Custom Error Document/);
  });

  test('the public access block applies on the website endpoint too', { timeout: 30_000 }, async () => {
    const bucket = uniqueBucket('blocked');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await put(bucket, 'index.html', 'home');
    await website(bucket, { IndexDocument: { Suffix: 'index.html' } });
    await makePublic(bucket, true);
    assert.equal((await siteRequest(target, site(bucket), '/')).status, 200);
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucket,
        PublicAccessBlockConfiguration: { RestrictPublicBuckets: true },
      }),
    );
    assertErrorPage(await siteRequest(target, site(bucket), '/'), 403, 'AccessDenied', 'restricted');
  });

  test('in a versioned bucket a deleted page (delete marker) is missing, an older version never shows', {
    timeout: 30_000,
  }, async () => {
    const bucket = uniqueBucket('versioned');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    await put(bucket, 'page.html', 'old page');
    await put(bucket, '404.html', 'not found page');
    await website(bucket, { IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: '404.html' } });
    await makePublic(bucket, true);
    assert.equal((await siteRequest(target, site(bucket), '/page.html')).body, 'old page');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'page.html' }));
    const gone = await siteRequest(target, site(bucket), '/page.html');
    assert.equal(gone.status, 404);
    assert.equal(gone.body, 'not found page');
  });

  test('policy conditions see the website request (aws:Referer for hotlink protection)', {
    timeout: 30_000,
  }, async () => {
    const bucket = uniqueBucket('referer');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await put(bucket, 'img.png', 'png');
    await website(bucket, { IndexDocument: { Suffix: 'index.html' } });
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: '*',
              Action: 's3:GetObject',
              Resource: `arn:aws:s3:::${bucket}/*`,
              Condition: { StringLike: { 'aws:Referer': 'https://mysite.example/*' } },
            },
          ],
        }),
      }),
    );
    const mine = await siteRequest(target, site(bucket), '/img.png', {
      headers: { referer: 'https://mysite.example/page.html' },
    });
    assert.equal(mine.status, 200);
    assertErrorPage(
      await siteRequest(target, site(bucket), '/img.png', { headers: { referer: 'https://other.example/' } }),
      403,
      'AccessDenied',
      'another site',
    );
    assertErrorPage(await siteRequest(target, site(bucket), '/img.png'), 403, 'AccessDenied', 'no referer');
  });

  test('conditional GET and Range work as on the API', { timeout: 30_000 }, async () => {
    const bucket = uniqueBucket('ranges');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await put(bucket, 'data.txt', '0123456789');
    await website(bucket, { IndexDocument: { Suffix: 'index.html' } });
    await makePublic(bucket, true);
    const full = await siteRequest(target, site(bucket), '/data.txt');
    const etag = String(full.headers.etag);
    const notModified = await siteRequest(target, site(bucket), '/data.txt', {
      headers: { 'if-none-match': etag },
    });
    assert.equal(notModified.status, 304);
    const failed = await siteRequest(target, site(bucket), '/data.txt', {
      headers: { 'if-match': '"nope"' },
    });
    assertErrorPage(failed, 412, 'PreconditionFailed', 'If-Match');
    const part = await siteRequest(target, site(bucket), '/data.txt', { headers: { range: 'bytes=2-4' } });
    assert.equal(part.status, 206);
    assert.equal(part.body, '234');
    assert.equal(part.headers['content-range'], 'bytes 2-4/10');
    const beyond = await siteRequest(target, site(bucket), '/data.txt', { headers: { range: 'bytes=20-' } });
    assertErrorPage(beyond, 416, 'InvalidRange', 'range past the end');
  });

  test('x-amz-website-redirect-location answers 301; error-code routing rules redirect', {
    timeout: 30_000,
  }, async () => {
    const bucket = uniqueBucket('redirects');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await put(bucket, 'old.html', '', { WebsiteRedirectLocation: '/new.html' });
    await put(bucket, 'ext.html', '', { WebsiteRedirectLocation: 'https://example.com/elsewhere' });
    await website(bucket, {
      IndexDocument: { Suffix: 'index.html' },
      RoutingRules: [
        {
          Condition: { HttpErrorCodeReturnedEquals: '404', KeyPrefixEquals: 'legacy/' },
          Redirect: {
            HostName: 'archive.example.com',
            ReplaceKeyPrefixWith: 'old-site/',
            HttpRedirectCode: '307',
          },
        },
      ],
    });
    await makePublic(bucket, true);
    const old = await siteRequest(target, site(bucket), '/old.html');
    assert.equal(old.status, 301);
    assert.equal(old.headers.location, '/new.html');
    const ext = await siteRequest(target, site(bucket), '/ext.html');
    assert.equal(ext.status, 301);
    assert.equal(ext.headers.location, 'https://example.com/elsewhere');
    const legacy = await siteRequest(target, site(bucket), '/legacy/page.html');
    assert.equal(legacy.status, 307);
    assert.equal(legacy.headers.location, 'http://archive.example.com/old-site/page.html');
    const plain404 = await siteRequest(target, site(bucket), '/other.html');
    assertErrorPage(plain404, 404, 'NoSuchKey', 'no rule for this prefix');
    assert.match(plain404.body, /<li>Key: other.html<\/li>/);
  });
});
