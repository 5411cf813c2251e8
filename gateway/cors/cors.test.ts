import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCorsConfiguration } from './config.ts';
import { matchRule, wildcardMatch } from './cors.ts';

test('one wildcard anywhere in an origin or header pattern; origins exact-case, headers any case', () => {
  assert.ok(wildcardMatch('*', ''));
  assert.ok(wildcardMatch('https://*.example.com', 'https://a.b.example.com'));
  assert.ok(!wildcardMatch('https://*.example.com', 'https://example.com'));
  assert.ok(wildcardMatch('http://localhost:*', 'http://localhost:5173'));
  assert.ok(wildcardMatch('*.example.com', 'x.example.com'));
  assert.ok(!wildcardMatch('ab*ba', 'aba'), 'head and tail may not overlap');
  assert.ok(!wildcardMatch('https://App.example', 'https://app.example'));
  assert.ok(wildcardMatch('X-Amz-Meta-*', 'x-amz-meta-color', true));
});

test('the first rule allowing origin, method and every requested header wins', () => {
  const config = parseCorsConfiguration(`<CORSConfiguration>
    <CORSRule><ID>a</ID><AllowedOrigin>https://a.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
    <CORSRule><ID>b</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>
      <AllowedHeader>content-*</AllowedHeader></CORSRule>
  </CORSConfiguration>`);
  assert.equal(matchRule(config, 'https://a.example', 'GET', [])?.id, 'a');
  assert.equal(
    matchRule(config, 'https://a.example', 'GET', ['Content-Type'])?.id,
    'b',
    'rule a allows no headers',
  );
  assert.equal(matchRule(config, 'https://z.example', 'PUT', ['content-md5', 'content-type'])?.id, 'b');
  assert.equal(matchRule(config, 'https://z.example', 'PUT', ['authorization']), undefined);
  assert.equal(matchRule(config, 'https://z.example', 'DELETE', []), undefined);
});
