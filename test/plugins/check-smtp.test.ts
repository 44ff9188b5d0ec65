import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { CheckerTester, refusingPort, tcpServer, type ServerBehaviour } from '../../core/testing';
import checkSmtp from '../../plugins/check-smtp';
import { PluginHost } from '../../core/plugin/host';
import { silentLogger } from '../../core/log/logger';

const tester = new CheckerTester({ plugin: checkSmtp });
const at = (port: number | undefined): string => `SMTP_CHECK 127.0.0.1:${port}`;

/** the HELO names the real server was greeted with */
const heloNames: Array<string | false> = [];

/** smtp-server on loopback: a real SMTP implementation, as the check meets in production */
function realSmtpServer(): ServerBehaviour {
  return {
    description: 'smtp-server, a real SMTP server',
    protocol: 'tcp',
    async start() {
      const open = new Set<net.Socket>();
      let accepted = 0;
      const server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        closeTimeout: 100,
        disableReverseLookup: true,
        onClose: (session) => void heloNames.push(session.hostNameAppearsAs),
      });
      server.server.on('connection', (sock: net.Socket) => {
        accepted++;
        open.add(sock);
        sock.once('close', () => open.delete(sock));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      const port = (server.server.address() as net.AddressInfo).port;
      return {
        address: '127.0.0.1',
        port,
        protocol: 'tcp',
        openConnections: () => open.size,
        received: () => accepted,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
    },
  };
}

/** the lines each scripted server received */
const received: string[][] = [];

/**
 * A scripted SMTP responder: sends `greeting`, then answers each line the
 * client sends with the next of `answers` (undefined: say nothing).
 */
function scripted(description: string, greeting: string | undefined, answers: Array<string | undefined>): ServerBehaviour {
  return tcpServer((sock) => {
    const lines: string[] = [];
    received.push(lines);
    if (greeting !== undefined) sock.write(greeting);
    let buf = '';
    let i = 0;
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        lines.push(buf.slice(0, nl).replace(/\r$/, ''));
        buf = buf.slice(nl + 1);
        const a = answers[i++];
        if (a !== undefined) sock.write(a);
      }
    });
  }, description);
}

tester.run('SMTP_CHECK against real SMTP servers on loopback', [
  {
    name: 'healthy: a real SMTP server greets, accepts HELO and QUIT',
    config: 'connect_timeout 1',
    server: realSmtpServer(),
    runs: 2,
    expect: { ok: true, message: (s) => `${at(s?.port)}: greeting 220, HELO 250, QUIT answered` },
    inspect: () => assert.deepEqual(heloNames.splice(0), ['smtpchecker.keepalived.org', 'smtpchecker.keepalived.org']),
  },
  {
    name: 'helo_name is what HELO says',
    config: 'connect_timeout 1\nhelo_name lb1.example.com',
    server: realSmtpServer(),
    expect: { ok: true },
    inspect: () => assert.deepEqual(heloNames.splice(0), ['lb1.example.com']),
  },
  {
    name: 'the exact conversation: HELO then QUIT, CRLF',
    config: 'connect_timeout 1',
    server: scripted('a scripted SMTP server', '220 mx ESMTP\r\n', ['250 mx\r\n', '221 bye\r\n']),
    expect: { ok: true },
    inspect: () => assert.deepEqual(received.splice(0), [['HELO smtpchecker.keepalived.org', 'QUIT']]),
  },
  {
    name: 'a multi-line greeting is read to its last line (RFC 5321; keepalived 2.2.8 fails it)',
    config: 'connect_timeout 1',
    server: scripted('a server with a two-line greeting', '220-mx.example.com ESMTP\r\n220 no UCE\r\n', ['250 mx\r\n', '221 bye\r\n']),
    expect: { ok: true },
  },
  {
    name: 'a bad greeting: 554',
    config: 'connect_timeout 1',
    server: scripted('a server refusing service', '554 mx: no service for you\r\n', []),
    expect: { ok: false, message: (s) => `${at(s?.port)}: greeting '554 mx: no service for you', expected 220` },
  },
  {
    name: 'a greeting that is not SMTP',
    config: 'connect_timeout 1',
    server: scripted('an SSH server', 'SSH-2.0-OpenSSH_9.2\r\n', []),
    expect: { ok: false, message: (s) => `${at(s?.port)}: greeting 'SSH-2.0-OpenSSH_9.2', expected 220` },
  },
  {
    name: 'HELO refused',
    config: 'connect_timeout 1',
    server: scripted('a server refusing HELO', '220 mx ESMTP\r\n', ['501 go away\r\n']),
    expect: { ok: false, message: (s) => `${at(s?.port)}: HELO smtpchecker.keepalived.org answered '501 go away', expected 250` },
  },
  {
    name: 'slow: the greeting after connect_timeout',
    config: 'connect_timeout 0.3',
    server: tcpServer((sock, clock) => clock.after(1000, () => sock.write('220 late\r\n')), 'a server greeting after 1 s'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: timed out waiting for the greeting` },
  },
  {
    name: 'hanging: greets, then never answers HELO',
    config: 'connect_timeout 0.3',
    server: scripted('a server silent after the greeting', '220 mx ESMTP\r\n', []),
    expect: { ok: false, message: (s) => `${at(s?.port)}: timed out waiting for the HELO reply` },
  },
  {
    name: 'resetting: the server resets after the greeting',
    config: 'connect_timeout 1',
    server: tcpServer((sock) => {
      sock.write('220 mx ESMTP\r\n');
      sock.once('data', () => sock.resetAndDestroy());
    }, 'a server resetting on HELO'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: connection reset by the server (ECONNRESET) waiting for the HELO reply` },
  },
  {
    name: 'the server closes after the greeting',
    config: 'connect_timeout 1',
    server: tcpServer((sock) => {
      sock.write('220 mx ESMTP\r\n');
      sock.once('data', () => sock.end());
    }, 'a server closing on HELO'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: the server closed the connection waiting for the HELO reply` },
  },
  {
    name: 'QUIT must be answered, whatever the answer (keepalived reads one line)',
    config: 'connect_timeout 1',
    server: tcpServer((sock) => {
      sock.write('220 mx ESMTP\r\n');
      let n = 0;
      sock.on('data', () => (n++ === 0 ? sock.write('250 mx\r\n') : sock.end()));
    }, 'a server closing on QUIT without a reply'),
    expect: { ok: false, message: (s) => `${at(s?.port)}: the server closed the connection waiting for the QUIT reply` },
  },
  {
    name: 'nothing listening',
    config: 'connect_timeout 1',
    server: refusingPort(),
    expect: { ok: false, message: (s) => `${at(s?.port)}: connection refused (ECONNREFUSED)` },
  },
  {
    name: 'deprecated host blocks: each is checked; without connection keywords of its own the checker checks only them',
    config: (s) => `connect_timeout 1\nhost {\nconnect_ip 127.0.0.1\nconnect_port ${s!.port}\n}\nhost {\nconnect_port ${s!.port}\n}`,
    server: realSmtpServer(),
    expect: { ok: true, message: (s) => `${at(s?.port)}: greeting 220, HELO 250, QUIT answered; ${at(s?.port)}: greeting 220, HELO 250, QUIT answered` },
    inspect: (s) => {
      heloNames.splice(0);
      assert.equal(s!.received(), 2);
    },
  },
  {
    name: 'a host block that fails fails the check',
    config: 'connect_timeout 1\nconnect_ip 127.0.0.1\nhost {\nconnect_port 1\n}',
    server: realSmtpServer(),
    expect: { ok: false, message: 'SMTP_CHECK 127.0.0.1:1: connection refused (ECONNREFUSED)' },
    inspect: () => void heloNames.splice(0),
  },
]);

test("the smtp_alert text is keepalived's, with the reason of the failure", async () => {
  const host = new PluginHost({ log: silentLogger });
  await host.apply(checkSmtp);
  const alertText = host.checkers.get('SMTP_CHECK')!.def.alertText!;
  assert.equal(alertText(true, 'greeting 220, HELO 250, QUIT answered'), '=> CHECK succeed on service <=');
  assert.equal(alertText(false, "greeting '554 go away', expected 220"), "=> CHECK failed on service : greeting '554 go away', expected 220 <=");
  await host.close();
});
