import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { isS3Error } from '../errors.ts';
import {
  completeMultipartUploadResultXml,
  copyObjectResultXml,
  copyPartResultXml,
  deleteResultXml,
  errorXml,
  initiateMultipartUploadResultXml,
  listAllMyBucketsXml,
  listMultipartUploadsResultXml,
  listObjectsV1Xml,
  listObjectsV2Xml,
  listPartsResultXml,
  locationConstraintXml,
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDeleteRequest,
  versioningConfigurationXml,
} from './xml.ts';

const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

/** AWS's documented samples are pretty-printed; ours are compact. Compare without the layout. */
function golden(sample: string): string {
  const compact = sample
    .trim()
    .replace(/>\s+</g, '><')
    .replace(/<([A-Za-z]+)( [^>]*)?\/>/g, '<$1$2></$1>');
  return compact.startsWith('<?xml') ? compact.replace(/\?></, '?>\n<') : DECL + compact;
}

const date = (s: string) => new Date(s);
const OWNER = {
  id: '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a',
  displayName: 'mtd@amazon.com',
};

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    assert.ok(isS3Error(err), String(err));
    return err.code;
  }
}

describe('golden responses (AWS API reference samples)', () => {
  test('Error', () => {
    const xml = errorXml({
      code: 'NoSuchKey',
      message: 'The resource you requested does not exist',
      resource: '/mybucket/myfoto.jpg',
      requestId: '4442587FB7D0A2F9',
    });
    assert.equal(
      xml,
      golden(`<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>`),
    );
  });

  test('Error with details between Message and RequestId, as AWS sends them', () => {
    const xml = errorXml({
      code: 'InvalidRange',
      message: 'The requested range is not satisfiable',
      requestId: 'R',
      hostId: 'H',
      details: { RangeRequested: 'bytes=30-', ActualObjectSize: '20' },
    });
    assert.equal(
      xml,
      `${DECL}<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message><RangeRequested>bytes=30-</RangeRequested><ActualObjectSize>20</ActualObjectSize><RequestId>R</RequestId><HostId>H</HostId></Error>`,
    );
  });

  test('ListAllMyBucketsResult', () => {
    const xml = listAllMyBucketsXml({
      owner: { id: 'bcaf1ffd86f461ca5fb16fd081034f', displayName: 'webfile' },
      buckets: [
        { name: 'quotes', creationDate: date('2006-02-03T16:45:09.000Z') },
        { name: 'samples', creationDate: date('2006-02-03T16:41:58.000Z'), region: 'us-west-2' },
      ],
    });
    assert.equal(
      xml,
      golden(`<ListAllMyBucketsResult ${NS}>
  <Owner><ID>bcaf1ffd86f461ca5fb16fd081034f</ID><DisplayName>webfile</DisplayName></Owner>
  <Buckets>
    <Bucket><Name>quotes</Name><CreationDate>2006-02-03T16:45:09.000Z</CreationDate></Bucket>
    <Bucket><Name>samples</Name><CreationDate>2006-02-03T16:41:58.000Z</CreationDate><BucketRegion>us-west-2</BucketRegion></Bucket>
  </Buckets>
</ListAllMyBucketsResult>`),
    );
  });

  test('LocationConstraint and VersioningConfiguration', () => {
    assert.equal(
      locationConstraintXml('us-west-2'),
      golden(`<LocationConstraint ${NS}>us-west-2</LocationConstraint>`),
    );
    assert.equal(locationConstraintXml(''), golden(`<LocationConstraint ${NS}/>`));
    assert.equal(versioningConfigurationXml(), golden(`<VersioningConfiguration ${NS}/>`));
    assert.equal(
      versioningConfigurationXml('Enabled'),
      golden(`<VersioningConfiguration ${NS}><Status>Enabled</Status></VersioningConfiguration>`),
    );
  });

  test('ListBucketResult v2 with CommonPrefixes', () => {
    const xml = listObjectsV2Xml({
      bucket: 'example-bucket',
      prefix: 'photos/2006/',
      delimiter: '/',
      maxKeys: 1000,
      isTruncated: false,
      contents: [
        {
          key: Buffer.from('photos/2006/'),
          lastModified: date('2016-04-30T23:51:29.000Z'),
          etag: 'd41d8cd98f00b204e9800998ecf8427e',
          size: 0,
        },
      ],
      commonPrefixes: [Buffer.from('photos/2006/February/'), 'photos/2006/January/'],
    });
    assert.equal(
      xml,
      golden(`<ListBucketResult ${NS}>
  <Name>example-bucket</Name>
  <Prefix>photos/2006/</Prefix>
  <KeyCount>3</KeyCount>
  <MaxKeys>1000</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>false</IsTruncated>
  <Contents>
    <Key>photos/2006/</Key>
    <LastModified>2016-04-30T23:51:29.000Z</LastModified>
    <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>
    <Size>0</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes><Prefix>photos/2006/February/</Prefix></CommonPrefixes>
  <CommonPrefixes><Prefix>photos/2006/January/</Prefix></CommonPrefixes>
</ListBucketResult>`),
    );
  });

  test('ListBucketResult v2 with StartAfter, tokens and fetch-owner', () => {
    const xml = listObjectsV2Xml({
      bucket: 'quotes',
      prefix: 'E',
      startAfter: 'ExampleGuide.pdf',
      continuationToken: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=',
      nextContinuationToken: 'AXk',
      maxKeys: 1,
      isTruncated: true,
      contents: [
        {
          key: 'ExampleObject.txt',
          lastModified: date('2013-09-17T18:07:53.000Z'),
          etag: '599bab3ed2c697f1d26842727561fd94',
          size: 857,
          owner: OWNER,
        },
      ],
      commonPrefixes: [],
    });
    assert.equal(
      xml,
      golden(`<ListBucketResult ${NS}>
  <Name>quotes</Name>
  <Prefix>E</Prefix>
  <StartAfter>ExampleGuide.pdf</StartAfter>
  <ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>
  <NextContinuationToken>AXk</NextContinuationToken>
  <KeyCount>1</KeyCount>
  <MaxKeys>1</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>ExampleObject.txt</Key>
    <LastModified>2013-09-17T18:07:53.000Z</LastModified>
    <ETag>&quot;599bab3ed2c697f1d26842727561fd94&quot;</ETag>
    <Size>857</Size>
    <StorageClass>STANDARD</StorageClass>
    <Owner><ID>${OWNER.id}</ID><DisplayName>mtd@amazon.com</DisplayName></Owner>
  </Contents>
</ListBucketResult>`),
    );
  });

  test('ListBucketResult v1', () => {
    const xml = listObjectsV1Xml({
      bucket: 'bucket',
      prefix: '',
      marker: '',
      maxKeys: 1000,
      isTruncated: false,
      contents: [
        {
          key: 'my-image.jpg',
          lastModified: date('2009-10-12T17:50:30.000Z'),
          etag: 'fba9dede5f27731c9771645a39863328',
          size: 434234,
          owner: OWNER,
        },
      ],
      commonPrefixes: [],
    });
    assert.equal(
      xml,
      golden(`<ListBucketResult ${NS}>
    <Name>bucket</Name>
    <Prefix/>
    <Marker/>
    <MaxKeys>1000</MaxKeys>
    <IsTruncated>false</IsTruncated>
    <Contents>
        <Key>my-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
        <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>mtd@amazon.com</DisplayName>
        </Owner>
    </Contents>
</ListBucketResult>`),
    );
    const withMarker = listObjectsV1Xml({
      bucket: 'b',
      prefix: 'photos/',
      marker: 'a',
      nextMarker: Buffer.from('photos/x/'),
      delimiter: '/',
      maxKeys: 1,
      isTruncated: true,
      contents: [],
      commonPrefixes: ['photos/x/'],
    });
    assert.match(
      withMarker,
      /<Marker>a<\/Marker><NextMarker>photos\/x\/<\/NextMarker><MaxKeys>1<\/MaxKeys><Delimiter>\/<\/Delimiter>/,
    );
  });

  test('CopyObjectResult and CopyPartResult', () => {
    const r = { etag: '9b2cf535f27731c974343645a3985328', lastModified: date('2009-10-12T17:50:30.000Z') };
    assert.equal(
      copyObjectResultXml(r),
      golden(`<CopyObjectResult ${NS}>
   <LastModified>2009-10-12T17:50:30.000Z</LastModified>
   <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
</CopyObjectResult>`),
    );
    assert.equal(
      copyPartResultXml({ ...r, checksums: { CRC32: 'i9vPLA==' }, checksumType: 'FULL_OBJECT' }),
      golden(
        `<CopyPartResult ${NS}><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><ChecksumType>FULL_OBJECT</ChecksumType><ChecksumCRC32>i9vPLA==</ChecksumCRC32></CopyPartResult>`,
      ),
    );
  });

  test('InitiateMultipartUploadResult and CompleteMultipartUploadResult', () => {
    assert.equal(
      initiateMultipartUploadResultXml({
        bucket: 'example-bucket',
        key: 'example-object',
        uploadId: 'VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA',
      }),
      golden(`<InitiateMultipartUploadResult ${NS}>
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>`),
    );
    assert.equal(
      completeMultipartUploadResultXml({
        location: 'http://Example-Bucket.s3.region.amazonaws.com/Example-Object',
        bucket: 'Example-Bucket',
        key: 'Example-Object',
        etag: '3858f62230ac3c915f300c664312c11f-9',
      }),
      golden(`<CompleteMultipartUploadResult ${NS}>
 <Location>http://Example-Bucket.s3.region.amazonaws.com/Example-Object</Location>
 <Bucket>Example-Bucket</Bucket>
 <Key>Example-Object</Key>
 <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>
</CompleteMultipartUploadResult>`),
    );
  });

  test('ListPartsResult', () => {
    const xml = listPartsResultXml({
      bucket: 'example-bucket',
      key: 'example-object',
      uploadId: 'XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA',
      initiator: { id: 'arn:aws:iam::111122223333:user/some-user', displayName: 'umat-user' },
      owner: { id: OWNER.id, displayName: 'someName' },
      partNumberMarker: 1,
      nextPartNumberMarker: 3,
      maxParts: 2,
      isTruncated: true,
      parts: [
        {
          partNumber: 2,
          lastModified: date('2010-11-10T20:48:34.000Z'),
          etag: '7778aef83f66abc1fa1e8477f296d394',
          size: 10485760,
        },
        {
          partNumber: 3,
          lastModified: date('2010-11-10T20:48:33.000Z'),
          etag: 'aaaa18db4cc2f85cedef654fccc4a4x8',
          size: 10485760,
        },
      ],
    });
    assert.equal(
      xml,
      golden(`<ListPartsResult ${NS}>
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator><ID>arn:aws:iam::111122223333:user/some-user</ID><DisplayName>umat-user</DisplayName></Initiator>
  <Owner><ID>${OWNER.id}</ID><DisplayName>someName</DisplayName></Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>&quot;aaaa18db4cc2f85cedef654fccc4a4x8&quot;</ETag>
    <Size>10485760</Size>
  </Part>
</ListPartsResult>`),
    );
  });

  test('ListMultipartUploadsResult with prefix and delimiter', () => {
    const xml = listMultipartUploadsResultXml({
      bucket: 'example-bucket',
      keyMarker: '',
      uploadIdMarker: '',
      nextKeyMarker: 'sample.jpg',
      nextUploadIdMarker:
        'Xgw4MJT6ZPAVxpY0SAuGN7q4uWJJM22ZYg1W99trdp4tpO88.PT6.MhO0w2E17eutfAvQfQWoajgE_W2gpcxQw--',
      delimiter: '/',
      prefix: 'photos/2006/',
      maxUploads: 1000,
      isTruncated: false,
      uploads: [
        {
          key: 'photos/2006/sample.jpg',
          uploadId:
            'Xgw4MJT6ZPAVxpY0SAuGN7q4uWJJM22ZYg1W99trdp4tpO88.PT6.MhO0w2E17eutfAvQfQWoajgE_W2gpcxQw--',
          initiator: OWNER,
          owner: OWNER,
          initiated: date('2010-11-26T19:24:17.000Z'),
        },
      ],
      commonPrefixes: ['photos/2006/February/'],
    });
    assert.equal(
      xml,
      golden(`<ListMultipartUploadsResult ${NS}>
  <Bucket>example-bucket</Bucket>
  <KeyMarker/>
  <UploadIdMarker/>
  <NextKeyMarker>sample.jpg</NextKeyMarker>
  <NextUploadIdMarker>Xgw4MJT6ZPAVxpY0SAuGN7q4uWJJM22ZYg1W99trdp4tpO88.PT6.MhO0w2E17eutfAvQfQWoajgE_W2gpcxQw--</NextUploadIdMarker>
  <Delimiter>/</Delimiter>
  <Prefix>photos/2006/</Prefix>
  <MaxUploads>1000</MaxUploads>
  <IsTruncated>false</IsTruncated>
  <Upload>
    <Key>photos/2006/sample.jpg</Key>
    <UploadId>Xgw4MJT6ZPAVxpY0SAuGN7q4uWJJM22ZYg1W99trdp4tpO88.PT6.MhO0w2E17eutfAvQfQWoajgE_W2gpcxQw--</UploadId>
    <Initiator><ID>${OWNER.id}</ID><DisplayName>mtd@amazon.com</DisplayName></Initiator>
    <Owner><ID>${OWNER.id}</ID><DisplayName>mtd@amazon.com</DisplayName></Owner>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-26T19:24:17.000Z</Initiated>
  </Upload>
  <CommonPrefixes><Prefix>photos/2006/February/</Prefix></CommonPrefixes>
</ListMultipartUploadsResult>`),
    );
  });

  test('DeleteResult, verbose and quiet', () => {
    const r = {
      deleted: [{ key: 'sample1.txt' }],
      errors: [{ key: 'sample2.txt', code: 'AccessDenied', message: 'Access Denied' }],
    };
    assert.equal(
      deleteResultXml({ quiet: false, ...r }),
      golden(`<DeleteResult ${NS}>
  <Deleted><Key>sample1.txt</Key></Deleted>
  <Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
</DeleteResult>`),
    );
    assert.equal(
      deleteResultXml({ quiet: true, ...r }),
      golden(
        `<DeleteResult ${NS}><Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>`,
      ),
    );
  });
});

describe('keys in XML', () => {
  const strict = new XMLParser({
    processEntities: true,
    htmlEntities: true,
    trimValues: false,
    parseTagValue: false,
  });
  const listWith = (key: string, encodingType?: 'url') =>
    listObjectsV2Xml({
      bucket: 'b',
      prefix: '',
      maxKeys: 1000,
      isTruncated: false,
      ...(encodingType ? { encodingType } : {}),
      contents: [{ key, lastModified: new Date(0), etag: 'e', size: 1 }],
      commonPrefixes: [],
    });

  test('markup characters are escaped and read back exactly', () => {
    const key = `a&b<c>d"e'f ]]> & amp;`;
    const xml = listWith(key);
    assert.match(xml, /<Key>a&amp;b&lt;c&gt;d&quot;e'f ]]&gt; &amp; amp;<\/Key>/);
    assert.equal(strict.parse(xml).ListBucketResult.Contents.Key, key);
  });

  test('CR is sent as &#13; (XML would read a raw CR as LF); LF and TAB are literal', () => {
    assert.match(listWith('a\rb\nc\td'), /<Key>a&#13;b\nc\td<\/Key>/);
  });

  test('characters XML 1.0 cannot carry become numeric references; encoding-type=url avoids them', () => {
    assert.match(listWith('\x00\x01\x1f\uffff'), /<Key>&#x0;&#x1;&#x1F;&#xFFFF;<\/Key>/);
    assert.match(listWith('\x00\x01', 'url'), /<Key>%00%01<\/Key>/);
  });

  test('encoding-type=url encodes exactly as AWS does (space as +, / kept, UTF-8 percent-encoded)', () => {
    const cases: Array<[string, string]> = [
      ['a b.txt', 'a+b.txt'],
      ['a+b.txt', 'a%2Bb.txt'],
      ['100%.csv', '100%25.csv'],
      ['한글/x.txt', '%ED%95%9C%EA%B8%80/x.txt'],
      ['test_file(3).png', 'test_file%283%29.png'],
      ['-_.*~!', '-_.*%7E%21'],
    ];
    for (const [key, encoded] of cases) {
      assert.ok(listWith(key, 'url').includes(`<Key>${encoded}</Key>`), key);
      assert.equal(decodeURIComponent(encoded.replace(/\+/g, ' ')), key);
    }
    const xml = listObjectsV2Xml({
      bucket: 'b',
      prefix: 'run books/',
      delimiter: ' ',
      startAfter: 'a+b',
      encodingType: 'url',
      continuationToken: 'a+b/c',
      maxKeys: 5,
      isTruncated: false,
      contents: [],
      commonPrefixes: [Buffer.from('run books/x y ')],
    });
    assert.match(
      xml,
      /<Prefix>run\+books\/<\/Prefix><StartAfter>a%2Bb<\/StartAfter><ContinuationToken>a\+b\/c<\/ContinuationToken>/,
    );
    assert.match(xml, /<Delimiter>\+<\/Delimiter><EncodingType>url<\/EncodingType>/);
    assert.match(xml, /<CommonPrefixes><Prefix>run\+books\/x\+y\+<\/Prefix><\/CommonPrefixes>/);
  });
});

describe('request parsers', () => {
  test('CreateBucketConfiguration', () => {
    const body = `<CreateBucketConfiguration ${NS}><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>`;
    assert.deepEqual(parseCreateBucketConfiguration(body), { locationConstraint: 'us-west-2' });
    assert.deepEqual(parseCreateBucketConfiguration('<CreateBucketConfiguration/>'), {});
    for (const bad of [
      '',
      'not xml',
      '<CreateBucketConfiguration>',
      '<Other/>',
      '<CreateBucketConfiguration xmlns="urn:other"/>',
      '<CreateBucketConfiguration><Bogus/></CreateBucketConfiguration>',
      '<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint><LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>',
      '<CreateBucketConfiguration/><CreateBucketConfiguration/>',
      '<CreateBucketConfiguration>text<LocationConstraint>a</LocationConstraint></CreateBucketConfiguration>',
    ]) {
      assert.equal(
        code(() => parseCreateBucketConfiguration(bad)),
        'MalformedXML',
        bad,
      );
    }
  });

  test('Delete: keys verbatim (spaces, entities, CR, CDATA), Quiet, VersionId', () => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>
<Delete ${NS}>
  <Quiet>true</Quiet>
  <Object><Key>sample1.txt</Key></Object>
  <Object><Key> spaced &amp; &lt;odd&gt; &#13;&#x1F600; </Key><VersionId>v1</VersionId></Object>
  <Object><Key><![CDATA[a&amp;b]]></Key></Object>
  <!-- a comment -->
</Delete>`;
    assert.deepEqual(parseDeleteRequest(body), {
      quiet: true,
      objects: [
        { key: 'sample1.txt' },
        { key: ' spaced & <odd> \r😀 ', versionId: 'v1' },
        { key: 'a&amp;b' },
      ],
    });
    assert.equal(parseDeleteRequest('<Delete><Object><Key>k</Key></Object></Delete>').quiet, false);
  });

  test('Delete: malformed bodies, and more than 1000 keys, are MalformedXML', () => {
    const objects = (n: number) =>
      Array.from({ length: n }, (_, i) => `<Object><Key>k${i}</Key></Object>`).join('');
    assert.equal(parseDeleteRequest(`<Delete>${objects(1000)}</Delete>`).objects.length, 1000);
    for (const bad of [
      `<Delete>${objects(1001)}</Delete>`,
      '<Delete></Delete>',
      '<Delete><Object></Object></Delete>',
      '<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>',
      '<Delete><Object><Key>a</Key></Object><Quiet>maybe</Quiet></Delete>',
      '<Delete><Object><Key>a&bogus;</Key></Object></Delete>',
      '<Delete><Object><Key>a&#0;</Key></Object></Delete>',
      '<Delete><Object><Key>a&#xD800;</Key></Object></Delete>',
      '<Delete><Object><Key>a & b</Key></Object></Delete>',
      '<Delete><Object><Key>\x01</Key></Object></Delete>',
      '<!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>',
      '<Delete><Object><Key><Nested/></Key></Object></Delete>',
      '<Delete><Object><Key>a</Key></Object></Delete><Delete/>',
      '<Delete><Object><Key>a</Key></Object>',
    ]) {
      assert.equal(
        code(() => parseDeleteRequest(bad)),
        'MalformedXML',
        bad.slice(0, 80),
      );
    }
  });

  test('CompleteMultipartUpload with ETags and checksums', () => {
    const body = `<CompleteMultipartUpload ${NS}>
  <Part><PartNumber>1</PartNumber><ETag>"a54357aff0632cce46d942af68356b38"</ETag></Part>
  <Part><ETag>0c78aef83f66abc1fa1e8477f296d394</ETag><PartNumber>2</PartNumber><ChecksumCRC32>i9vPLA==</ChecksumCRC32></Part>
</CompleteMultipartUpload>`;
    assert.deepEqual(parseCompleteMultipartUpload(body), {
      parts: [
        { partNumber: 1, etag: 'a54357aff0632cce46d942af68356b38', checksums: {} },
        { partNumber: 2, etag: '0c78aef83f66abc1fa1e8477f296d394', checksums: { CRC32: 'i9vPLA==' } },
      ],
    });
    for (const bad of [
      '<CompleteMultipartUpload/>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag><Size>3</Size></Part></CompleteMultipartUpload>',
    ]) {
      assert.equal(
        code(() => parseCompleteMultipartUpload(bad)),
        'MalformedXML',
        bad,
      );
    }
  });
});
