// What mirroring and push sync share about each mirror: told once when a current mirror falls behind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MirrorPeers } from './mirror-peers.ts';

test('a mirror that was current and missed a write is announced once; one already behind is not', {
  timeout: 10_000,
}, () => {
  const told: string[] = [];
  const peers = new MirrorPeers<string>({
    selfId: '0000000a',
    connect: (url) => url,
    disconnect: () => undefined,
    onBehind: (id) => told.push(id),
  });
  peers.update([
    { nodeId: '0000000a', url: 'http://a', state: 'up' },
    { nodeId: '0000000b', url: 'http://b', state: 'up' },
  ]);
  const b = peers.get('0000000b')!;
  // Behind at start (nothing is known of what it missed before): a miss says nothing new.
  b.noteMissed();
  assert.deepEqual(told, []);
  // Push sync caught it up; the next miss is news, the one after is not.
  b.behind = false;
  b.noteMissed();
  b.noteMissed();
  assert.deepEqual(told, ['0000000b']);
  assert.equal(b.misses, 3);
});
