// The takeover clock against a model: before a write of a key, the counter is past every member ranked above this
// node for the key (reported counter plus the margin), unchanged when this node is the key's primary or those
// members reported nothing, and it never goes back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { NodeView } from '../common/cluster-wire.ts';
import { rankMembers } from '../common/layout.ts';
import { OpverClock } from './opver-clock.ts';
import { TAKEOVER_MARGIN, TakeoverClock } from './takeover-clock.ts';

const SELF = '00000001';

function view(nodeId: string, state: NodeView['state'], opver: bigint | undefined): NodeView {
  return {
    nodeId,
    syncgroup: 'g',
    url: 'http://127.0.0.1:1',
    startedMs: 1,
    objects: 0,
    volumes: [],
    state,
    silentMs: 0,
    ...(opver === undefined ? {} : { opver: opver.toString() }),
  };
}

const memberArb = fc.record({
  nodeId: fc.integer({ min: 2, max: 0xffff }).map((n) => n.toString(16).padStart(8, '0')),
  state: fc.constantFrom('up', 'suspect', 'recovering') as fc.Arbitrary<NodeView['state']>,
  opver: fc.option(fc.bigInt({ min: 0n, max: 1n << 40n }), { nil: undefined }),
});

test('a takeover write goes past the reported counter of every member ranked above this node', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(memberArb, { selector: (m) => m.nodeId, maxLength: 4 }),
      fc.bigInt({ min: 0n, max: 1n << 40n }),
      fc.uint8Array({ maxLength: 12 }),
      (members, start, keyBytes) => {
        const clock = new OpverClock(1);
        clock.advanceTo(start);
        const t = new TakeoverClock({ selfId: SELF, clock });
        t.update(members.map((m) => view(m.nodeId, m.state, m.opver)));
        const key = Buffer.from(keyBytes);
        t.beforeWrite('bucket', key);
        // The model: the members above SELF in the rendezvous order over every member that hands out opvers.
        const counting = members.filter((m) => m.state !== 'recovering');
        const order = rankMembers([SELF, ...counting.map((m) => m.nodeId)], 'bucket', key);
        const above = order.slice(0, order.indexOf(SELF)).map((id) => counting.find((m) => m.nodeId === id)!);
        let want = start;
        for (const m of above)
          if (m.opver !== undefined && m.opver + TAKEOVER_MARGIN > want) want = m.opver + TAKEOVER_MARGIN;
        assert.equal(clock.counter, want);
        // The next write's opver is above every opver those members reported.
        const next = clock.next().counter;
        for (const m of above) if (m.opver !== undefined) assert.ok(next > m.opver + TAKEOVER_MARGIN - 1n);
      },
    ),
  );
});

test('the primary of a key moves nothing; a second takeover write of the same report moves nothing more', () => {
  const clock = new OpverClock(1);
  clock.advanceTo(500n);
  const t = new TakeoverClock({ selfId: SELF, clock });
  const other = '000000ff';
  t.update([view(other, 'suspect', 1000n)]);
  const key = (first: string) =>
    Array.from({ length: 200 }, (_, i) => Buffer.from(`k${i}`)).find(
      (k) => rankMembers([SELF, other], 'b', k)[0] === first,
    )!;
  t.beforeWrite('b', key(SELF));
  assert.equal(clock.counter, 500n, 'its own key: no jump');
  t.beforeWrite('b', key(other));
  assert.equal(clock.counter, 1000n + TAKEOVER_MARGIN);
  clock.next();
  t.beforeWrite('b', key(other));
  assert.equal(clock.counter, 1001n + TAKEOVER_MARGIN, 'already past it: only its own writes moved it');
  t.update([view(other, 'recovering', 1n << 40n)]);
  t.beforeWrite('b', key(other));
  assert.equal(clock.counter, 1001n + TAKEOVER_MARGIN, 'a recovering member hands out no opvers');
});
