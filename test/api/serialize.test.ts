import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serializeInParts } from '../../core/api/routes';
import { TurnBudget } from '../../core/status/turns';
import type { StatusDocument } from '../../core/status/types';
import { DOC } from './fixture';

test('serializeInParts gives the bytes of JSON.stringify, in turns of the event loop along long lists', async () => {
  const inst = DOC.vrrp.instances[0]!;
  const vs = DOC.virtualServers[0]!;
  const doc: StatusDocument = {
    ...DOC,
    vrrp: {
      ...DOC.vrrp,
      instances: Array.from({ length: 250 }, (_, i) => ({ ...inst, name: `VI_${i}`, cause: { kind: 'config', text: `ünïcode "${i}"` } as never })),
    },
    virtualServers: Array.from({ length: 120 }, (_, i) => ({ ...vs, name: `[10.0.${i >> 8}.${i & 255}]:tcp:80` })),
  };
  let turns = 0;
  const tick = (): void => {
    turns++;
    if (turns < 1000) setImmediate(tick);
  };
  setImmediate(tick);
  const bytes = await serializeInParts(doc, new TurnBudget(0));
  assert.equal(bytes.toString('utf8'), JSON.stringify(doc));
  // a budget of 0 ms: a turn after every instance and virtual server
  assert.ok(turns >= 250 + 120, `${turns} turns`);
  for (const empty of [{ ...DOC, vrrp: { ...DOC.vrrp, instances: [] }, virtualServers: [] }, DOC]) {
    assert.equal((await serializeInParts(empty)).toString('utf8'), JSON.stringify(empty));
  }
});
