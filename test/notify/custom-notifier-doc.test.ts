import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeEvent, type NotifyEvent } from '../../core/sdk';
import { NotifierTester, SAMPLE_EVENT } from '../../core/testing';
import { tmpDir } from '../helpers/config';
import { pluginFromDoc } from '../helpers/doc-plugin';

/**
 * The custom notifier of docs/writing-a-plugin.md, taken from the page as it
 * is, compiled, and run through the NotifierTester as the page says to test
 * it: the accepted events are appended to the file, the others are not.
 */

const file = path.join(tmpDir('alived-event-log-'), 'events.log');
const reload: NotifyEvent = { type: 'daemon', what: 'reload', time: Date.UTC(2024, 0, 1) };

new NotifierTester({ plugin: pluginFromDoc('## 9. A custom notifier') }).run('the event_log notifier of docs/writing-a-plugin.md', [
  {
    name: 'a VRRP transition is appended; a daemon event is not accepted',
    config: `event_log audit {\n  path ${file}\n}`,
    events: [SAMPLE_EVENT, reload],
    accepted: [0],
    expect: 'sent',
    inspect: (_server, outcome) => {
      assert.equal(fs.readFileSync(file, 'utf8'), `${outcome.deliveries[0]!.info.id} ${describeEvent(SAMPLE_EVENT)}\n`);
    },
  },
  { name: 'path is required', config: 'event_log audit {\n}', errors: [/lacks required 'path'/] },
]);
