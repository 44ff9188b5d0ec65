import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { silentLogger } from '../../core/log/logger';
import { CheckerTester, refusingPort, tcpServer } from '../../core/testing';
import checkTcp, { createTcpChecker, type TcpCheckConfig } from '../../plugins/check-tcp';

/** the source addresses and ports the bindto case's server saw */
const seen: string[] = [];

const tester = new CheckerTester({ plugin: checkTcp });
const at = (port: number | undefined): string => `TCP_CHECK 127.0.0.1:${port}`;
const sourcePort = (serverPort: number): number => 20_000 + (serverPort % 10_000);

tester.run('TCP_CHECK against real servers on loopback', [
  {
    name: 'a listening server: up, and the connection is closed at once',
    config: 'connect_timeout 1',
    server: tcpServer(),
    runs: 3,
    expect: { ok: true, message: (s) => `${at(s?.port)}: connected` },
    inspect: (s) => {
      if (s!.received() !== 3) throw new Error(`the server saw ${s!.received()} connections, expected 3`);
    },
  },
  {
    name: 'nothing listening: down, connection refused',
    config: 'connect_timeout 1',
    server: refusingPort(),
    expect: { ok: false, message: (s) => `${at(s?.port)}: connection refused (ECONNREFUSED)` },
  },
  {
    name: 'a server that resets each connection once accepted: up, a TCP_CHECK only connects (as keepalived)',
    config: 'connect_timeout 1',
    server: tcpServer((sock, clock) => clock.after(100, () => sock.resetAndDestroy()), 'a server resetting each connection 100 ms after accepting it'),
    expect: { ok: true },
  },
  {
    name: 'connect_port names another port than the real server',
    config: (s) => `connect_port ${s!.port}\nconnect_ip 127.0.0.1`,
    server: tcpServer(),
    expect: { ok: true, message: (s) => `${at(s?.port)}: connected` },
  },
  {
    name: 'bindto sets the source address of the connection',
    config: 'bindto 127.0.0.2\nconnect_timeout 1',
    server: tcpServer((sock) => void seen.push(`${sock.remoteAddress}`)),
    expect: { ok: true },
    inspect: () => assert.deepEqual(seen.splice(0), ['127.0.0.2']),
  },
  {
    name: 'bind_port without bindto binds the port on the wildcard address',
    // below the kernel's ephemeral range (32768-60999), which the other sockets of a busy run take ports from
    config: (s) => `bind_port ${sourcePort(s!.port)}\nconnect_timeout 1`,
    server: tcpServer((sock) => void seen.push(`${sock.remoteAddress}:${sock.remotePort}`)),
    expect: { ok: true },
    inspect: (s) => assert.deepEqual(seen.splice(0), [`127.0.0.1:${sourcePort(s!.port)}`]),
  },
  {
    name: 'a bindto that is not on this host: down, EADDRNOTAVAIL',
    config: 'bindto 192.0.2.77\nconnect_timeout 1',
    server: tcpServer(),
    expect: { ok: false, message: /the source address \(bindto\) is not on this host \(EADDRNOTAVAIL\)$/ },
  },
  {
    name: 'fwmark cannot be set from Node.js: -t warns and every result says so',
    config: 'fwmark 7\nconnect_timeout 1',
    server: tcpServer(),
    warnings: ['TCP_CHECK: fwmark 7 is not applied: Node.js cannot set SO_MARK on a socket, so the check traffic goes out unmarked'],
    expect: { ok: true, message: (s) => `${at(s?.port)}: connected (fwmark 7 not set: Node.js cannot set SO_MARK on a socket)` },
  },
  {
    name: 'a config error is reported like a core one',
    config: 'conect_port 80',
    errors: ["unknown keyword 'conect_port' in TCP_CHECK (did you mean 'connect_port'?)"],
  },
]);

test('TCP_CHECK: a signal that has aborted settles the check at once, without connecting', async () => {
  let connections = 0;
  const server = net.createServer((sock) => {
    connections++;
    sock.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const target = { address: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
    const checker = createTcpChecker({ pos: { file: 'x', line: 1, col: 1 }, extensions: [] } as unknown as TcpCheckConfig, {
      target,
      realServer: target,
      log: silentLogger,
    });
    const r = await checker.check(AbortSignal.abort(new DOMException('connect_timeout', 'TimeoutError')));
    assert.deepEqual(r, { ok: false, message: `TCP_CHECK 127.0.0.1:${target.port}: timed out connecting` });
    const r2 = await checker.check(AbortSignal.abort(new Error('reload')));
    assert.deepEqual(r2, { ok: false, message: `TCP_CHECK 127.0.0.1:${target.port}: aborted (reload) connecting` });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(connections, 0);
  } finally {
    server.close();
  }
});
