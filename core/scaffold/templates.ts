import { folderOf, type PluginKind } from './names';

/**
 * The files of a plugin project made by `alived plugin init`, as text. They
 * are part of alived's source (so of dist/ and the package): nothing is read
 * from outside the package when a project is made. Generated code is written
 * as a plugin author would write it, importing only `alived` and
 * `alived/testing`.
 */

export interface ProjectSpec {
  /** the npm package name, which is also the plugin's name */
  readonly name: string;
  readonly kind: PluginKind;
  /** the checker's or notifier's config keyword */
  readonly keyword: string;
  /** what package.json asks npm for alived: `^0.1.0`, `file:../alived-0.1.0.tgz` */
  readonly alivedSpec: string;
  /** the alived versions the plugin declares it works with (its `alived` field) */
  readonly alivedRange: string;
}

/** A file of the project: its path relative to the project's folder, and its text. */
export interface ProjectFile {
  readonly path: string;
  readonly text: string;
}

/** TypeScript and Node.js types the project builds with: those alived builds with */
const TYPESCRIPT = '^5.9.0';
const NODE_TYPES = '^20.19.0';

export function projectFiles(p: ProjectSpec): ProjectFile[] {
  return [
    { path: 'package.json', text: packageJson(p) },
    { path: 'tsconfig.json', text: TSCONFIG },
    { path: '.gitignore', text: 'node_modules/\ndist/\n*.tgz\n' },
    { path: 'src/index.ts', text: p.kind === 'checker' ? checkerSource(p) : notifierSource(p) },
    { path: 'test/plugin.test.ts', text: p.kind === 'checker' ? checkerTest(p) : notifierTest(p) },
    { path: 'README.md', text: readme(p) },
  ];
}

function packageJson(p: ProjectSpec): string {
  const pkg = {
    name: p.name,
    version: '0.1.0',
    description: `An alived ${p.kind} plugin: ${p.kind === 'checker' ? `the ${p.keyword} health check` : `the ${p.keyword} notifier`}`,
    keywords: ['alived', 'alived-plugin', 'keepalived'],
    type: 'commonjs',
    main: 'dist/src/index.js',
    types: 'dist/src/index.d.ts',
    files: ['dist/src'],
    engines: { node: '>=20' },
    scripts: {
      build: 'tsc -p tsconfig.json',
      // the shell expands the pattern: node 20 takes no patterns, and a folder only on some versions
      test: 'tsc -p tsconfig.json && node --test dist/test/*.test.js',
      prepack: 'tsc -p tsconfig.json',
    },
    // alived loads the plugin: the copy that runs it is the operator's, so alived is a peer;
    // the dev dependency is the copy the tests run with
    peerDependencies: { alived: p.alivedSpec },
    devDependencies: { '@types/node': NODE_TYPES, alived: p.alivedSpec, typescript: TYPESCRIPT },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

// node16 resolution reads alived's `exports`, so `alived/testing` resolves with its types
const TSCONFIG = `${JSON.stringify(
  {
    compilerOptions: {
      target: 'ES2022',
      module: 'node16',
      moduleResolution: 'node16',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      esModuleInterop: true,
      skipLibCheck: true,
      declaration: true,
      sourceMap: true,
      rootDir: '.',
      outDir: 'dist',
    },
    include: ['src/**/*.ts', 'test/**/*.ts'],
  },
  null,
  2,
)}\n`;

function checkerSource(p: ProjectSpec): string {
  return `/**
 * ${p.keyword}: a health check for alived, a block inside real_server.
 * It connects to the real server (or to connect_ip / connect_port), sends
 * \`send\` when the block has it, and is up when the reply contains
 * \`expect\` (without \`expect\`, as soon as the connection is made).
 *
 *   plugins {
 *     "/path/to/${folderOf(p.name)}/dist/src/index.js"
 *   }
 *   virtual_server 192.0.2.10 6379 {
 *     real_server 192.0.2.11 6379 {
 *       ${p.keyword} {
 *         send PING
 *         expect PONG
 *       }
 *     }
 *   }
 */
import * as net from 'node:net';
import {
  abortWords,
  block,
  checkerCommonFields,
  checkerConnectionFields,
  describeError,
  hostPort,
  onAbort,
  str,
  tcpConnectOptions,
  word,
  type AlivedPlugin,
  type BlockOf,
  type Checker,
  type CheckResult,
  type Endpoint,
} from 'alived';

const PLUGIN_NAME = '${p.name}';

/** the most of a reply kept while looking for \`expect\` */
const MAX_REPLY = 64 * 1024;

/**
 * The keywords of a ${p.keyword} block: those every checker takes
 * (connect_timeout, bindto, retry, delay_loop, ...: alived acts on them),
 * then its own. alived validates them and reports mistakes at FILE:LINE:COL.
 */
const schema = block({
  ...checkerConnectionFields,
  ...checkerCommonFields,
  send: word(str({ minLength: 1 })).doc('a line sent once connected (CRLF is added)'),
  expect: word(str({ minLength: 1 })).doc('text the reply must contain; without it, a connection is enough'),
});

/** what alived hands create(): the block's values in camelCase, typed from the schema */
type Config = BlockOf<typeof schema>;

function probe(target: Endpoint, config: Config, signal: AbortSignal): Promise<CheckResult> {
  const where = hostPort(target.address, target.port);
  return new Promise((resolve) => {
    let settled = false;
    let reply = '';
    // to the target, from bindto / bind_port / bind_if when the config sets them
    const socket = net.connect(tcpConnectOptions(target, config));
    const finish = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      stopWatching();
      socket.destroy();
      resolve(result);
    };
    // the scheduler aborts the signal at connect_timeout: a check always settles
    const stopWatching = onAbort(signal, () => finish({ ok: false, message: \`\${where}: \${abortWords(signal)}\` }));
    socket.once('error', (err) => finish({ ok: false, message: \`\${where}: \${describeError(err)}\` }));
    socket.once('connect', () => {
      if (config.send !== undefined) socket.write(\`\${config.send}\\r\\n\`);
      if (config.expect === undefined) finish({ ok: true, message: \`\${where}: connected\` });
    });
    socket.on('data', (chunk: Buffer) => {
      reply = (reply + chunk.toString('latin1')).slice(-MAX_REPLY);
      if (config.expect !== undefined && reply.includes(config.expect)) finish({ ok: true, message: \`\${where}: replied '\${config.expect}'\` });
    });
    socket.once('end', () => finish({ ok: false, message: \`\${where}: closed the connection without '\${config.expect}' in its reply\` }));
  });
}

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: '0.1.0',
  // the alived versions this plugin works with, checked before apply()
  alived: '${p.alivedRange}',
  apply(api) {
    // apply() only registers: sockets and timers belong in create() and check()
    api.registerChecker<Config>({
      keyword: '${p.keyword}',
      schema,
      create(config, ctx): Checker {
        return {
          // one check: never throws, returns a result, settles when the signal aborts
          check(signal) {
            return probe(ctx.target, config, signal);
          },
        };
      },
    });
  },
};

export default plugin;
`;
}

function checkerTest(p: ProjectSpec): string {
  return `import * as path from 'node:path';
import { CheckerTester, refusingPort, tcpServer } from 'alived/testing';

/**
 * ${p.keyword} tested with the CheckerTester alived ships: each case is the
 * lines inside the block, a real server on 127.0.0.1 (port 0), and the
 * result expected. The plugin is enabled by its path, as keepalived.conf
 * enables it, and checked the way the daemon checks it.
 */

const PLUGIN = path.join(__dirname, '..', 'src', 'index.js');

/** a TCP server that answers every line it reads with \`answer\` */
function answering(answer: string) {
  return tcpServer((socket) => {
    socket.on('data', () => socket.write(\`\${answer}\\r\\n\`));
  }, \`a TCP server answering '\${answer}'\`);
}

new CheckerTester({ plugin: PLUGIN }).run('${p.keyword}', [
  { name: 'a server that accepts the connection: up', config: '', server: tcpServer(), expect: { ok: true, message: /connected/ } },
  { name: 'the expected reply: up', config: 'send PING\\nexpect PONG', server: answering('+PONG'), expect: { ok: true } },
  {
    name: 'another reply, then the connection closed: down, and says why',
    config: 'send PING\\nexpect PONG',
    // resume(): a server that does not read would not see the checker close its side
    server: tcpServer((socket) => socket.resume().end('-ERR unknown command\\r\\n'), 'a TCP server that answers an error and closes'),
    expect: { ok: false, message: /without 'PONG'/ },
  },
  { name: 'nothing listening: down', config: '', server: refusingPort(), expect: { ok: false, message: /refused/ } },
  {
    name: 'a server that never answers: down at connect_timeout',
    config: 'send PING\\nexpect PONG\\nconnect_timeout 0.5',
    server: tcpServer(),
    expect: { ok: false, message: /timed out/ },
  },
  { name: 'a typo is a config error with a suggestion', config: 'expec PONG', errors: [/unknown keyword 'expec'.*did you mean 'expect'/] },
]);
`;
}

function notifierSource(p: ProjectSpec): string {
  return `/**
 * ${p.keyword}: a notifier for alived. Each event is POSTed as JSON to
 * \`url\`. Delivery (retries with backoff, the outbox across restarts, the
 * order per instance) is alived's: the plugin only says how to send one
 * event.
 *
 *   plugins {
 *     "/path/to/${folderOf(p.name)}/dist/src/index.js"
 *   }
 *   ${p.keyword} oncall {
 *     url http://192.0.2.50:8080/alived
 *   }
 */
import * as http from 'node:http';
import * as https from 'node:https';
import {
  block,
  describeEvent,
  eventState,
  permanentFailure,
  redactUrlSecrets,
  str,
  trackerHeader,
  word,
  type AlivedPlugin,
  type BlockOf,
  type NotifyEvent,
} from 'alived';

const PLUGIN_NAME = '${p.name}';

const SENT = new Set<NotifyEvent['type']>(['vrrp', 'real-server', 'quorum', 'flapping', 'test']);

/**
 * The keywords of a \`${p.keyword} NAME { }\` block. alived validates them and
 * reports mistakes at FILE:LINE:COL.
 */
const schema = block(
  {
    url: word(str({ pattern: /^https?:\\/\\/\\S+$/, patternText: 'an http:// or https:// URL' }))
      .required()
      .doc('where events are POSTed'),
  },
  { header: trackerHeader },
);

/** what alived hands create(): the block's values in camelCase, typed from the schema */
type Config = BlockOf<typeof schema>;

function post(url: string, body: string, signal: AbortSignal, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const req = (url.startsWith('https:') ? https : http).request(url, { method: 'POST', headers, signal, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: '0.1.0',
  // the alived versions this plugin works with, checked before apply()
  alived: '${p.alivedRange}',
  apply(api) {
    // apply() only registers: sockets and timers belong in create() and deliver()
    api.registerNotifier<Config>({
      keyword: '${p.keyword}',
      schema,
      create(config) {
        // an agent of its own, without keep-alive: close() leaves no connection open
        const agent = new (config.url.startsWith('https:') ? https : http).Agent({ keepAlive: false });
        // the URL as messages show it: a password or token in it masked
        const shown = redactUrlSecrets(config.url);
        return {
          // the events this notifier sends: state changes of VRRP, real servers and quorum, their
          // summary while they flap, and \`alived notify test\`
          accepts(event: NotifyEvent) {
            return SENT.has(event.type);
          },
          // resolves when the event is delivered; rejects to have alived retry it
          async deliver(event, signal, info) {
            const body = JSON.stringify({ id: info.id, state: eventState(event), text: describeEvent(event), event });
            const status = await post(config.url, body, signal, agent);
            if (status >= 200 && status < 300) return;
            if (status === 429 || status >= 500) throw new Error(\`\${shown} answered HTTP \${status}\`);
            // a retry cannot help
            throw permanentFailure(\`\${shown} answered HTTP \${status}\`);
          },
          close() {
            agent.destroy();
          },
        };
      },
    });
  },
};

export default plugin;
`;
}

function notifierTest(p: ProjectSpec): string {
  return `import assert from 'node:assert/strict';
import * as path from 'node:path';
import { httpServer, NotifierTester, refusingPort, SAMPLE_EVENT, type TestServer } from 'alived/testing';

/**
 * The ${p.keyword} notifier tested with the NotifierTester alived ships: each
 * case is a config, a real HTTP server on 127.0.0.1 (port 0), the events
 * published and what each delivery must give. The plugin is enabled by its
 * path, as keepalived.conf enables it.
 */

const PLUGIN = path.join(__dirname, '..', 'src', 'index.js');

/** an HTTP endpoint answering \`status\`, keeping the bodies it receives */
function endpoint(status: number) {
  const bodies: string[] = [];
  const server = httpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(status).end();
    });
  }, \`an HTTP server answering \${status}\`);
  return { server, bodies };
}

const config = (server: TestServer | undefined): string => \`${p.keyword} oncall {\\n  url http://127.0.0.1:\${server?.port ?? 1}/alived\\n}\`;

const ok = endpoint(200);

new NotifierTester({ plugin: PLUGIN }).run('${p.keyword}', [
  {
    name: 'an event is POSTed as JSON',
    config,
    server: ok.server,
    events: [SAMPLE_EVENT],
    expect: 'sent',
    inspect() {
      assert.equal(ok.bodies.length, 1);
      const body = JSON.parse(ok.bodies[0]!) as { state: string; text: string };
      assert.equal(body.state, 'MASTER');
      assert.equal(body.text, 'VRRP instance VI_1: BACKUP -> MASTER (priority 100)');
    },
  },
  { name: 'a server error is retried', config, server: endpoint(503).server, expect: 'retry' },
  { name: 'a refusal fails for good', config, server: endpoint(403).server, expect: 'failed', message: /HTTP 403/ },
  { name: 'nothing listening: retried', config, server: refusingPort(), expect: 'retry' },
  { name: 'url is required', config: '${p.keyword} oncall {\\n}', errors: [/url/] },
]);
`;
}

/** what `npm install` is given for alived: the spec itself when it names a file or URL, else alived@SPEC */
function installSpec(p: ProjectSpec): string {
  return /^[a-z+]+:/.test(p.alivedSpec) ? p.alivedSpec : `alived@${p.alivedSpec}`;
}

/** with alived given as a file: what to change before the package is published */
function publishNote(p: ProjectSpec): string {
  if (!/^[a-z+]+:/.test(p.alivedSpec)) return '';
  return `\n\npackage.json asks for alived as \`${p.alivedSpec}\`; before you publish the
package, make its peer dependency the range of alived versions it works
with (\`${p.alivedRange}\`, as the plugin's \`alived\` field says).`;
}

/** the file `npm pack` makes of version 0.1.0: @acme/x -> acme-x-0.1.0.tgz */
function tarballOf(name: string): string {
  return `${name.replace(/^@/, '').replace('/', '-')}-0.1.0.tgz`;
}

function readme(p: ProjectSpec): string {
  const dir = folderOf(p.name);
  const what =
    p.kind === 'checker'
      ? `A health check for alived: the \`${p.keyword}\` block inside a \`real_server\`. It connects to the real server, sends \`send\` if the block has it, and is up when the reply contains \`expect\` (without \`expect\`, as soon as the connection is made).`
      : `A notifier for alived: a \`${p.keyword} NAME { }\` block whose events are POSTed as JSON to its \`url\`. A 2xx answer is success, 429 and 5xx are retried, anything else fails for good.`;
  const usage =
    p.kind === 'checker'
      ? `virtual_server 192.0.2.10 6379 {
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server 192.0.2.11 6379 {
        ${p.keyword} {
            send PING
            expect PONG
            connect_timeout 3
        }
    }
}`
      : `${p.keyword} oncall {
    url http://192.0.2.50:8080/alived
}`;
  const table =
    p.kind === 'checker'
      ? `| keyword (in \`${p.keyword}\`) | value | default | meaning |
| --- | --- | --- | --- |
| \`send\` | a string | none | a line sent once connected (CRLF is added) |
| \`expect\` | a string | none | text the reply must contain; without it, a connection is enough |

It also takes the keywords every alived checker takes: \`connect_ip\`,
\`connect_port\`, \`connect_timeout\`, \`bindto\`, \`bind_port\`, \`bind_if\`,
\`retry\`, \`delay_before_retry\`, \`warmup\`, \`delay_loop\`, \`alpha\`,
\`log_all_failures\`.`
      : `| keyword (in \`${p.keyword} NAME { }\`) | value | default | meaning |
| --- | --- | --- | --- |
| \`url\` | an \`http://\` or \`https://\` URL | required | where events are POSTed |`;
  return `# ${p.name}

${what}

Made by \`alived plugin init\`. The plugin is \`src/index.ts\`; its tests,
\`test/plugin.test.ts\`, run it with the ${p.kind === 'checker' ? 'CheckerTester' : 'NotifierTester'} from \`alived/testing\`
against a real server on 127.0.0.1.

## Build and test

    npm install
    npm test

\`npm test\` compiles (\`dist/\`) and runs the tests with \`node --test\`.
\`npm run build\` only compiles. alived is a peer dependency (the copy
that loads the plugin is the operator's) and a dev dependency (the copy
the tests run with).${publishNote(p)}

## Enable it in keepalived.conf

Build it where it is to stay (here \`/opt/${dir}\`): \`npm install && npm run build\`.
Then name the compiled module in a \`plugins\` block of the config file
alived reads (\`/etc/alived/alived.conf\` or \`/etc/keepalived/keepalived.conf\`);
a path is relative to the config file that names it:

    plugins {
        "/opt/${dir}/dist/src/index.js"
    }

Its \`require('alived')\` is the alived that loads it, wherever that was
installed from (the Debian package, npm): the copy in the project's
\`node_modules\` is for building and testing it.

Or pack it (\`npm pack\`) and install the tarball in the config file's
folder, with the alived it names as a peer (npm installs peers too):

    cd /etc/alived
    npm install ${installSpec(p)} /opt/${dir}/${tarballOf(p.name)}

Then its name is enough:

    plugins {
        "${p.name}"
    }

Use the ${p.kind === 'checker' ? 'check' : 'notifier'} in the config:

    ${usage.split('\n').join('\n    ')}

${table}

Check the config before a reload: \`alived -t -f /etc/alived/alived.conf\`
reports every mistake in these keywords as \`FILE:LINE:COL\`, with the
nearest valid keyword.
`;
}
