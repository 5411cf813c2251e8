// MirroringNode's own rules, with the node and its mirrors as small stand-ins (the real two-node runs over HTTP are
// in mirror-cluster.test.ts): a write answers once every mirror has it; a mirror that fails, or stops taking the
// body / answering for the timeout, is left behind and skipped by the next writes until push sync reaches it; a
// large body that keeps moving is never cut; async buckets are not sent (uploads in progress are mirrored on real nodes: mirror-cluster.test.ts); one member of a
// syncgroup runs the lifecycle.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ObjectRecord, PutObjectInput, ReadHandle, StorageApi } from './api.ts';
import { LifecycleWorker } from './lifecycle-worker.ts';
import {
  type ApplyResult,
  MirroringNode,
  type ReplicaSource,
  type ReplicaState,
  type ReplicaTarget,
  runsLifecycle,
} from './mirror.ts';
import { MirrorPeers, unitKey } from './mirror-peers.ts';
import type { PartHandle, ReplicaApi, UploadState } from './replica-api.ts';

const T = { timeout: 20_000 };
const SELF = 'aaaaaaaa';
const NODE = 0xaaaaaaaa;

/** The local node: one state per (key, version), an opver counter, bodies that count their releases. */
class FakeNode implements ReplicaSource {
  counter = 0n;
  states = new Map<string, { state: ReplicaState; body: Buffer }>();
  open = 0;
  /** Read-backs: versions opened to send their bytes. */
  opened = 0;
  chunkBytes = 64 * 1024;
  async replicaStates(bucket: string, key: Buffer): Promise<ReplicaState[]> {
    return [...this.states.values()]
      .map((s) => s.state)
      .filter((s) => s.bucket === bucket && s.key.equals(key));
  }
  async openObject(
    bucket: string,
    key: Buffer,
    which?: { versionId?: string },
  ): Promise<ReadHandle | undefined> {
    const s = this.states.get(`${bucket}/${key}/${which?.versionId ?? 'null'}`);
    if (!s?.state.record) return undefined;
    this.open++;
    this.opened++;
    let released = false;
    const chunkBytes = this.chunkBytes;
    return {
      record: s.state.record,
      async *stream() {
        for (let i = 0; i < s.body.length; i += chunkBytes) yield s.body.subarray(i, i + chunkBytes);
      },
      release: () => {
        if (!released) this.open--;
        released = true;
      },
    };
  }
  async uploadUnit(): Promise<UploadState | undefined> {
    return undefined;
  }
  async openPart(): Promise<PartHandle | undefined> {
    return undefined;
  }
  /** What the wrapped StorageApi does: a put or delete of the null version, at the next opver. */
  api(): StorageApi & ReplicaApi {
    const write = (bucket: string, key: Buffer, body: Buffer | undefined): ObjectRecord | undefined => {
      const opver = { counter: ++this.counter, nodeId: NODE };
      const record: ObjectRecord | undefined = body && {
        bucket,
        key,
        size: body.length,
        etag: 'e',
        lastModifiedMs: 1,
        headers: { userMeta: {} },
        checksums: {},
        opver,
        versionId: 'null',
      };
      this.states.set(`${bucket}/${key}/null`, {
        state: { bucket, key, versionId: 'null', opver, ...(record ? { record } : {}) },
        body: body ?? Buffer.alloc(0),
      });
      return record;
    };
    return {
      putObject: async (input: PutObjectInput) => {
        const parts: Buffer[] = [];
        for await (const c of input.body) parts.push(c);
        return write(input.bucket, input.key, Buffer.concat(parts))!;
      },
      deleteObject: async (bucket: string, key: Buffer) => {
        write(bucket, key, undefined);
        return true;
      },
    } as unknown as StorageApi & ReplicaApi;
  }
}

type Behaviour =
  | 'apply'
  | 'fail'
  | 'freeze'
  | { pauseMs: number }
  | { until: Promise<void>; reached: () => void };

/** A mirror: applies what it is sent (taking the body as told), fails, or freezes (takes nothing, never answers). */
class FakeMirror implements ReplicaTarget {
  got: Array<{ state: ReplicaState; body: Buffer }> = [];
  calls = 0;
  constructor(public behaviour: Behaviour) {}
  async applyReplica(input: { state: ReplicaState; body?: AsyncIterable<Buffer> }): Promise<ApplyResult> {
    this.calls++;
    const b = this.behaviour;
    if (b === 'fail') throw new Error('connection refused');
    if (b === 'freeze') return new Promise<never>(() => undefined);
    const parts: Buffer[] = [];
    if (input.body)
      for await (const c of input.body) {
        parts.push(c);
        if (typeof b === 'object' && 'pauseMs' in b) await new Promise((r) => setTimeout(r, b.pauseMs));
      }
    this.got.push({ state: input.state, body: Buffer.concat(parts) });
    // A pause point between taking the body and answering (the mirror making it durable).
    if (typeof b === 'object' && 'until' in b) {
      b.reached();
      await b.until;
    }
    return 'applied';
  }
  async applyUpload(): Promise<ApplyResult> {
    throw new Error('not expected: uploads are tested on real nodes (mirror-uploads.test.ts)');
  }
}

function setup(mirrors: Record<string, FakeMirror>, opts: { ackTimeoutMs?: number; async?: boolean } = {}) {
  const node = new FakeNode();
  const peers = new MirrorPeers<ReplicaTarget>({
    selfId: SELF,
    connect: (url) => mirrors[url]!,
    disconnect: () => undefined,
  });
  peers.update(Object.keys(mirrors).map((id) => ({ nodeId: id, url: id, state: 'up' as const })));
  let wakes = 0;
  const warnings: string[] = [];
  const mirroring = new MirroringNode({
    inner: node.api(),
    local: node,
    clock: () => node.counter,
    peers,
    modeFor: () => (opts.async ? 'async' : 'mirrored'),
    ackTimeoutMs: opts.ackTimeoutMs ?? 1000,
    wakeSync: () => {
      wakes++;
    },
    log: { warn: (_o, msg) => warnings.push(msg) },
  });
  const put = (key: string, body: Buffer) =>
    mirroring.putObject({
      bucket: 'b',
      key: Buffer.from(key),
      size: body.length,
      body: (async function* () {
        yield body;
      })(),
      headers: { userMeta: {} },
      nowMs: 1,
      finish: async () => ({ etag: 'e', checksums: {} }),
    });
  return { node, peers, mirroring, put, wakes: () => wakes, warnings };
}

describe('mirroring', () => {
  test(
    'a write answers once every mirror has its state and bytes; the acknowledgement is noted for push sync',
    T,
    async () => {
      const b = new FakeMirror('apply');
      const c = new FakeMirror('apply');
      const s = setup({ bbbbbbbb: b, cccccccc: c });
      const body = Buffer.alloc(200_000, 7);
      const rec = await s.put('k', body);
      for (const m of [b, c]) {
        assert.equal(m.got.length, 1);
        assert.deepEqual(m.got[0]!.state.opver, rec.opver);
        assert.ok(m.got[0]!.body.equals(body));
      }
      assert.equal(s.node.open, 0, 'the read handle is released');
      assert.equal(s.mirroring.mirrorStats().mirrored, 1);
      const unit = unitKey('b', Buffer.from('k'), rec.opver.counter, rec.opver.nodeId);
      assert.equal(s.peers.get('bbbbbbbb')!.takeAcked(unit), true, 'push sync will skip this record');
      assert.equal(s.wakes(), 0, 'push sync has nothing to do now');
      // A delete sends the tombstone (no body).
      await s.mirroring.deleteObject('b', Buffer.from('k'));
      assert.equal(b.got.length, 2);
      assert.equal(b.got[1]!.state.record, undefined);
      assert.equal(b.got[1]!.state.opver.counter, rec.opver.counter + 1n);
    },
  );

  test('a small body goes to the mirrors from memory, as it was given: no read-back', T, async () => {
    const b = new FakeMirror('apply');
    const c = new FakeMirror('apply');
    const s = setup({ bbbbbbbb: b, cccccccc: c });
    const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
    const rec = await s.put('k', body);
    assert.equal(s.node.opened, 0, 'nothing read back from the local node');
    for (const m of [b, c]) {
      assert.equal(m.got.length, 1);
      assert.deepEqual(m.got[0]!.state.opver, rec.opver);
      assert.ok(m.got[0]!.body.equals(body));
    }
    // A larger body is read back (and streamed) as before.
    await s.put('big', Buffer.alloc(200_000, 9));
    assert.equal(s.node.opened, 1);
    assert.equal(s.node.open, 0);
  });

  test('a mirrored write is answered only once the mirror has answered its apply', T, async () => {
    let reached!: () => void;
    const atMirror = new Promise<void>((r) => {
      reached = r;
    });
    let letGo!: () => void;
    const until = new Promise<void>((r) => {
      letGo = r;
    });
    const c = new FakeMirror({ until, reached });
    const s = setup({ cccccccc: c }, { ackTimeoutMs: 60_000 });
    let answered = false;
    const writing = s.put('k', Buffer.from('held')).then((r) => {
      answered = true;
      return r;
    });
    await atMirror;
    // The mirror holds the body but has not answered: every pending callback runs, and still no answer.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(answered, false);
    letGo();
    const rec = await writing;
    assert.equal(answered, true);
    assert.deepEqual(c.got[0]!.state.opver, rec.opver);
  });

  test(
    'a failing mirror is left behind: acknowledged without it, push sync woken, later writes skip it',
    T,
    async () => {
      const b = new FakeMirror('apply');
      const c = new FakeMirror('fail');
      const s = setup({ bbbbbbbb: b, cccccccc: c });
      await s.put('k1', Buffer.from('one'));
      assert.equal(s.peers.get('cccccccc')!.responsive, false);
      assert.ok(s.wakes() >= 1);
      assert.equal(s.mirroring.mirrorStats().leftBehind, 1);
      assert.equal(s.warnings.length, 1);
      await s.put('k2', Buffer.from('two'));
      assert.equal(c.calls, 1, 'not sent to again until push sync has reached it');
      assert.equal(b.got.length, 2);
      // Push sync reached it: writes go to it again.
      s.peers.get('cccccccc')!.responsive = true;
      c.behaviour = 'apply';
      await s.put('k3', Buffer.from('three'));
      assert.equal(c.got.length, 1);
    },
  );

  test('a frozen mirror (takes nothing, never answers) is left behind after the timeout', T, async () => {
    const c = new FakeMirror('freeze');
    const s = setup({ cccccccc: c }, { ackTimeoutMs: 200 });
    await s.put('k', Buffer.alloc(100_000, 1));
    assert.equal(s.peers.get('cccccccc')!.responsive, false);
    await s.put('k2', Buffer.from('x'));
    assert.equal(c.calls, 1);
  });

  test('a large body that keeps moving is not cut by the timeout', T, async () => {
    // 16 chunks taken 100 ms apart: 1.6 s in all, 8 times the timeout, but never 200 ms without progress.
    const c = new FakeMirror({ pauseMs: 100 });
    const s = setup({ cccccccc: c }, { ackTimeoutMs: 1000 });
    s.node.chunkBytes = 64 * 1024;
    const body = Buffer.alloc(16 * 64 * 1024, 3);
    await s.put('big', body);
    assert.equal(s.peers.get('cccccccc')!.responsive, true);
    assert.ok(c.got[0]!.body.equals(body));
  });

  test(
    'an async bucket is acknowledged after the local write: nothing sent, push sync woken',
    T,
    async () => {
      const c = new FakeMirror('freeze');
      const s = setup({ cccccccc: c }, { async: true, ackTimeoutMs: 60_000 });
      await s.put('k', Buffer.from('fast'));
      assert.equal(c.calls, 0);
      assert.equal(s.wakes(), 1);
      assert.equal(s.mirroring.mirrorStats().unmirrored, 1);
    },
  );

  test('the lifecycle runs on one member: the up member with the lowest node id', T, async () => {
    assert.equal(runsLifecycle('0000000a', [{ nodeId: '0000000b', state: 'up' }]), true);
    assert.equal(runsLifecycle('0000000b', [{ nodeId: '0000000a', state: 'up' }]), false);
    assert.equal(runsLifecycle('0000000b', [{ nodeId: '0000000a', state: 'suspect' }]), true);
    assert.equal(runsLifecycle('0000000b', [{ nodeId: '0000000a', state: 'recovering' }]), true);
    // The worker asks before each pass.
    let asked = 0;
    let listed = 0;
    const worker = new LifecycleWorker(
      {
        nextBucket: () => {
          listed++;
          return undefined;
        },
      } as never,
      {
        rulesFor: () => undefined,
        intervalMs: 0,
        opsPerSecond: 0,
        active: () => {
          asked++;
          return false;
        },
      },
    );
    await worker.runOnce();
    assert.equal(asked, 1);
    assert.equal(listed, 0, 'an inactive member does not walk its index');
  });
});
