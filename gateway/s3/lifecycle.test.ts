import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isS3Error } from '../errors.ts';
import { expirationHeader, lifecycleXml, parseLifecycleXml } from './lifecycle.ts';

const cfg = (...rules: string[]) => `<LifecycleConfiguration>${rules.join('')}</LifecycleConfiguration>`;
const rule = (body: string, status = 'Enabled') => `<Rule>${body}<Status>${status}</Status></Rule>`;

function code(xml: string): string {
  try {
    parseLifecycleXml(xml);
  } catch (err) {
    assert.ok(isS3Error(err), String(err));
    return err.code;
  }
  return 'ok';
}

describe('lifecycle configuration: parse, validate, answer', { timeout: 10_000 }, () => {
  test('every filter form and action parses and comes back in the form it was given', () => {
    const xml = cfg(
      rule('<ID>legacy</ID><Prefix>logs/</Prefix><Expiration><Days>30</Days></Expiration>'),
      rule(
        '<ID>empty</ID><Filter></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>',
      ),
      rule(
        '<ID>prefix</ID><Filter><Prefix>tmp/</Prefix></Filter><Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>',
        'Disabled',
      ),
      rule(
        '<ID>tag</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>',
      ),
      rule(
        '<ID>gt</ID><Filter><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan></Filter><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>',
      ),
      rule(
        '<ID>and</ID><Filter><And><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>j</Key><Value></Value></Tag><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter><Expiration><Days>1</Days></Expiration>',
      ),
    );
    const rules = parseLifecycleXml(xml);
    assert.deepEqual(
      rules.map((r) => [r.id, r.filterForm, r.enabled]),
      [
        ['legacy', 'legacy-prefix', true],
        ['empty', 'empty', true],
        ['prefix', 'prefix', false],
        ['tag', 'tag', true],
        ['gt', 'gt', true],
        ['and', 'and', true],
      ],
    );
    assert.deepEqual(rules[2]!.expiration, { dateMs: Date.UTC(2030, 0, 1) });
    assert.deepEqual(rules[3]!.noncurrentExpiration, { noncurrentDays: 3, newerNoncurrentVersions: 2 });
    assert.deepEqual(rules[5]!.filter, {
      prefix: 'a/',
      tags: [
        { key: 'k', value: 'v' },
        { key: 'j', value: '' },
      ],
      sizeGreaterThan: 1,
      sizeLessThan: 9,
    });
    // What GET answers parses back to the same rules.
    assert.deepEqual(parseLifecycleXml(lifecycleXml(rules)), rules);
    assert.match(
      lifecycleXml(rules),
      /<Rule><Expiration><Days>30<\/Days><\/Expiration><ID>legacy<\/ID><Prefix>logs\/<\/Prefix><Status>Enabled<\/Status><\/Rule>/,
    );
  });

  test('a rule without an ID gets a generated one; IDs must be unique and ≤ 255 characters', () => {
    const [r] = parseLifecycleXml(cfg(rule('<Filter/><Expiration><Days>1</Days></Expiration>')));
    assert.ok(r!.id.length > 0);
    const exp = '<Filter/><Expiration><Days>1</Days></Expiration>';
    assert.equal(code(cfg(rule(`<ID>x</ID>${exp}`), rule(`<ID>x</ID>${exp}`))), 'InvalidArgument');
    assert.equal(code(cfg(rule(`<ID>${'i'.repeat(256)}</ID>${exp}`))), 'InvalidArgument');
    assert.equal(code(cfg(rule(`<ID>${'i'.repeat(255)}</ID>${exp}`))), 'ok');
  });

  test("AWS's refusals", () => {
    const f = '<Filter/>';
    const cases: Array<[string, string]> = [
      [cfg(), 'MalformedXML'],
      [cfg(rule(`${f}<Expiration><Days>1</Days></Expiration>`, 'On')), 'MalformedXML'],
      [
        '<LifecycleConfiguration><Rule><Filter/><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
        'MalformedXML',
      ],
      [cfg(rule('<Expiration><Days>1</Days></Expiration>')), 'MalformedXML'],
      [cfg(rule(`<Prefix>a</Prefix>${f}<Expiration><Days>1</Days></Expiration>`)), 'MalformedXML'],
      [
        cfg(
          rule(
            '<Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter><Expiration><Days>1</Days></Expiration>',
          ),
        ),
        'MalformedXML',
      ],
      [
        cfg(rule(`${f}<Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>`)),
        'MalformedXML',
      ],
      [cfg(rule(`${f}<Expiration></Expiration>`)), 'MalformedXML'],
      [cfg(rule(`${f}<Expiration><Days>x</Days></Expiration>`)), 'MalformedXML'],
      [cfg(rule(`${f}<Expiration><Days>0</Days></Expiration>`)), 'InvalidArgument'],
      [cfg(rule(`${f}<Expiration><Days>-3</Days></Expiration>`)), 'InvalidArgument'],
      [cfg(rule(`${f}<Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>`)), 'InvalidArgument'],
      [
        cfg(
          rule(
            `${f}<NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>`,
          ),
        ),
        'InvalidArgument',
      ],
      [
        cfg(
          rule(
            `${f}<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>`,
          ),
        ),
        'InvalidArgument',
      ],
      [cfg(rule(`${f}<NoncurrentVersionExpiration></NoncurrentVersionExpiration>`)), 'MalformedXML'],
      [
        cfg(
          rule(
            `${f}<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>`,
          ),
        ),
        'InvalidArgument',
      ],
      [
        cfg(
          rule(
            '<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>',
          ),
        ),
        'InvalidRequest',
      ],
      [
        cfg(
          rule(
            '<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>',
          ),
        ),
        'InvalidRequest',
      ],
      [cfg(rule(f)), 'InvalidRequest'],
      [
        cfg(
          rule(
            '<Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter><Expiration><Days>1</Days></Expiration>',
          ),
        ),
        'InvalidArgument',
      ],
      [
        cfg(
          rule(
            '<Filter><And><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>k</Key><Value>w</Value></Tag></And></Filter><Expiration><Days>1</Days></Expiration>',
          ),
        ),
        'InvalidTag',
      ],
      [
        cfg(
          rule(
            `<Filter><Prefix>${'p'.repeat(1025)}</Prefix></Filter><Expiration><Days>1</Days></Expiration>`,
          ),
        ),
        'InvalidArgument',
      ],
      [
        cfg(rule(`${f}<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>`)),
        'InvalidStorageClass',
      ],
      [
        cfg(
          rule(
            `${f}<Expiration><Days>1</Days></Expiration><NoncurrentVersionTransition><NoncurrentDays>30</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>`,
          ),
        ),
        'InvalidStorageClass',
      ],
    ];
    for (const [xml, want] of cases) assert.equal(code(xml), want, xml);
  });

  test('x-amz-expiration names the earliest enabled matching rule, rounded up to midnight UTC', () => {
    const rules = parseLifecycleXml(
      cfg(
        rule('<ID>slow</ID><Filter/><Expiration><Days>10</Days></Expiration>'),
        rule(
          '<ID>fast one</ID><Filter><Prefix>logs/</Prefix></Filter><Expiration><Days>2</Days></Expiration>',
        ),
        rule('<ID>off</ID><Filter/><Expiration><Days>1</Days></Expiration>', 'Disabled'),
      ),
    );
    const lastModifiedMs = Date.UTC(2026, 0, 1, 15, 30);
    assert.deepEqual(expirationHeader(rules, { key: Buffer.from('logs/a'), size: 1, lastModifiedMs }), {
      'x-amz-expiration': 'expiry-date="Sun, 04 Jan 2026 00:00:00 GMT", rule-id="fast%20one"',
    });
    assert.deepEqual(expirationHeader(rules, { key: Buffer.from('data/a'), size: 1, lastModifiedMs }), {
      'x-amz-expiration': 'expiry-date="Mon, 12 Jan 2026 00:00:00 GMT", rule-id="slow"',
    });
    assert.deepEqual(expirationHeader(undefined, { key: Buffer.from('x'), size: 1, lastModifiedMs }), {});
  });
});
