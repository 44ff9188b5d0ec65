import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileFile, compileText, FIXTURES, permissiveHost } from '../helpers/config';

/** the diagnostics of one severity that are not the "does not act on ... yet" summary */
const only = (lines: string[], severity: string): string[] => lines.filter((l) => l.includes(` ${severity}: `) && !l.includes('does not act on'));

test('a full virtual_server compiles to typed values', async () => {
  const r = await compileText(`
virtual_server 192.168.200.100 443 {
    delay_loop 6.5
    lvs_sched sh
    sh-port
    lvs_method TUN type gue port 6080 csum
    persistence_timeout
    persistence_granularity 255.255.255.0
    persistence_engine sip
    protocol tcp
    quorum 2
    hysteresis 1
    weight 3
    virtualhost www.example.com
    alpha
    omega
    quorum_up "/usr/local/bin/quorum.sh up" root
    quorum_down /usr/local/bin/quorum-down.sh
    sorry_server 192.168.200.200 443
    sorry_server_inhibit
    sorry_server_lvs_method DR
    smtp_alert no
    real_server 192.168.201.100 443 {
        weight 0
        uthreshold 1000
        lthreshold 10
        inhibit_on_failure
        notify_up /bin/up.sh
        TCP_CHECK {
            connect_port 8443
            connect_timeout 3
        }
    }
    real_server 192.168.201.101 443
}
`);
  assert.deepEqual(r.errors, []);
  const vs = r.model!.virtualServer[0]!;
  assert.equal(vs.kind, 'address');
  assert.equal(vs.address, '192.168.200.100');
  assert.equal(vs.port, 443);
  assert.equal(vs.delayLoop, 6.5);
  assert.equal(vs.connectTimeout, 5);
  assert.equal(vs.lvsSched, 'sh');
  assert.equal(vs['sh-port'], true);
  assert.deepEqual(vs.lvsMethod, { method: 'TUN', tunnelType: 'gue', tunnelPort: 6080, checksum: 'csum' });
  assert.equal(vs.persistenceTimeout, 360);
  assert.equal(vs.persistenceGranularity?.family, 4);
  assert.equal(vs.persistenceEngine, 'sip');
  assert.equal(vs.protocol, 'TCP');
  assert.equal(vs.quorum, 2);
  assert.equal(vs.hysteresis, 1);
  assert.equal(vs.weight, 3);
  assert.equal(vs.alpha, true);
  assert.equal(vs.omega, true);
  assert.deepEqual(vs.quorumUp?.argv, ['/usr/local/bin/quorum.sh', 'up']);
  assert.equal(vs.quorumUp?.user, 'root');
  assert.deepEqual(vs.sorryServer, { family: 4, address: '192.168.200.200', port: 443 });
  assert.equal(vs.sorryServerInhibit, true);
  assert.deepEqual(vs.sorryServerLvsMethod, { method: 'DR' });
  assert.equal(vs.smtpAlert, false);
  assert.equal(vs.realServer.length, 2);
  const rs = vs.realServer[0]!;
  assert.equal(rs.address, '192.168.201.100');
  assert.equal(rs.weight, 0);
  assert.equal(rs.uthreshold, 1000);
  assert.equal(rs.lthreshold, 10);
  assert.equal(rs.inhibitOnFailure, true);
  assert.equal(rs.notifyUp?.command, '/bin/up.sh');
  assert.equal(rs.extensions[0]!.keyword, 'TCP_CHECK');
  assert.equal((rs.extensions[0]!.value as { connectPort: number }).connectPort, 8443);
  // a real_server without a block, with the virtual server's weight
  assert.equal(vs.realServer[1]!.weight, undefined);
  assert.deepEqual(vs.realServer[1]!.extensions, []);
});

test('fwmark and group virtual servers; virtual_server_group entries and ranges', async () => {
  const r = await compileText(`
virtual_server_group VSG_1 {
  10.0.0.1 80
  10.0.0.8/29 80
  192.168.200.3-10 80
  192.168.200.250-192.168.201.10
  ae00::2-1f 80
  fwmark 7 inet
}
virtual_server group VSG_1 {
  lvs_sched rr
  lvs_method NAT
  protocol UDP
  real_server 10.1.1.1 80
}
virtual_server fwmark 12 {
  lvs_sched wlc
  lvs_method DR
  real_server 10.1.1.1
}
`);
  assert.deepEqual(r.errors, []);
  const g = r.model!.virtualServerGroup[0]!;
  assert.equal(g.name, 'VSG_1');
  const summary = g.entries.map((e) =>
    e.kind === 'fwmark' ? `fwmark ${e.fwmark} ${e.family}` : `${e.address}..${e.last} ${e.port}${e.prefix ? ` /${e.prefix}` : ''}`,
  );
  assert.deepEqual(summary, [
    '10.0.0.1..10.0.0.1 80',
    '10.0.0.8..10.0.0.15 80 /29',
    '192.168.200.3..192.168.200.10 80',
    '192.168.200.250..192.168.201.10 0',
    'ae00::2..ae00::1f 80',
    'fwmark 7 4',
  ]);
  assert.deepEqual(
    r.model!.virtualServer.map((v) => v.kind),
    ['group', 'fwmark'],
  );
  const [byGroup, byMark] = r.model!.virtualServer;
  if (byGroup!.kind !== 'group' || byMark!.kind !== 'fwmark') return assert.fail('kinds');
  assert.equal(byGroup!.group, 'VSG_1');
  assert.equal(byMark!.fwmark, 12);
});

test('an unknown virtual_server_group is an error at the name, with a did-you-mean', async () => {
  const r = await compileText(`virtual_server_group VSG_1 {
  10.0.0.1 80
}
virtual_server group VSG_2 {
  lvs_sched rr
  protocol TCP
  real_server 10.1.1.1 80
}
`);
  assert.deepEqual(r.errors, [
    "keepalived.conf:4:22: error: virtual_server group VSG_2 refers to virtual_server_group 'VSG_2', which is not defined (did you mean 'VSG_1'?)",
  ]);
});

test('bad virtual_server_group entries are errors at the entry', async () => {
  const r = await compileText(`virtual_server_group G {
  10.0.0.1-300 80
  10.0.0.9-5 80
  10.0.0.9/29 80
  10.0.0.1-ae00::1 80
  bogus 80
  10.0.0.1 80 90
  fwmark 0
  fwmark 3 inet4
}
`);
  assert.deepEqual(r.errors, [
    "keepalived.conf:2:3: error: the range end '300' in '10.0.0.1-300' is too large: at most 255",
    "keepalived.conf:3:3: error: the range '10.0.0.9-5' does not end after it starts (9 >= 5)",
    "keepalived.conf:4:3: error: '10.0.0.9/29' has host bits set: the address must be the first of its /29 subnet",
    "keepalived.conf:5:3: error: 'ae00::1' in '10.0.0.1-ae00::1' is not the last octet (0..255) of a range",
    "keepalived.conf:6:3: error: 'bogus' is not a virtual_server_group entry: expected <IPADDR>[-<END>|/<PREFIX>] [<PORT>] | fwmark <INTEGER> [inet|inet6]",
    "keepalived.conf:7:15: error: a virtual_server_group entry takes <IPADDR>[-<END>|/<PREFIX>] [<PORT>] | fwmark <INTEGER> [inet|inet6]; unexpected '90'",
    'keepalived.conf:8:10: error: 0 is out of range: expected 1..4294967295',
    "keepalived.conf:9:12: error: 'inet4' is not one of inet, inet6 (did you mean 'inet'?)",
  ]);
});

test('a mixed-family group needs the family of its fwmarks', async () => {
  const r = await compileText(`virtual_server_group G {
  10.0.0.1 80
  ae00::1 80
  fwmark 3
}
virtual_server_group E {
}
`);
  assert.deepEqual(r.errors, [
    'keepalived.conf:4:3: error: virtual_server_group G has IPv4 and IPv6 entries, so its fwmark entries need a family: fwmark 3 inet|inet6',
  ]);
  assert.ok(r.warnings.includes('keepalived.conf:6:1: warning: virtual_server_group E has no entries; keepalived removes it'));
});

test('out-of-range ports and bad addresses in headers', async () => {
  const r = await compileText(`virtual_server 10.0.0.1 80 {
  lvs_sched rr
  protocol TCP
  real_server 10.0.0.2 70000 {
  }
  real_server 10.0.0.300 80
  sorry_server 10.0.0.9 -1
}
virtual_server fwmark {
}
`);
  assert.deepEqual(r.errors, [
    'keepalived.conf:4:24: error: 70000 is out of range: expected 0..65535',
    "keepalived.conf:6:15: error: '10.0.0.300' is not an IP address",
    'keepalived.conf:7:25: error: -1 is out of range: expected 0..65535',
    "keepalived.conf:9:16: error: 'virtual_server fwmark' needs a mark 1..4294967295",
  ]);
});

test('lvs_sched, lb_algo and lb_kind: did-you-mean, deprecation notes', async () => {
  const r = await compileText(`virtual_server 10.0.0.1 80 {
  lb_algo wrr
  lb_kind DR
  protocol TCP
  real_server 10.0.0.2 80
}
virtual_server 10.0.0.1 81 {
  lvs_sched wrrr
  protocol TCP
  real_server 10.0.0.2 81
}
`);
  assert.deepEqual(r.errors, [
    "keepalived.conf:8:13: error: 'wrrr' is not one of rr, wrr, lc, wlc, lblc, sh, mh, dh, fo, ovf, lblcr, sed, nq, twos (did you mean 'wrr'?)",
  ]);
  assert.deepEqual(only(r.lines, 'note'), [
    "keepalived.conf:2:3: note: 'lb_algo' is the old spelling of 'lvs_sched'; accepted",
    "keepalived.conf:3:3: note: 'lb_kind' is the old spelling of 'lvs_method'; accepted",
  ]);
});

test('lvs_method tunnel options follow keepalived', async () => {
  const r = await compileText(`virtual_server fwmark 1 {
  lvs_sched rr
  lvs_method TUN type gue
  real_server 10.0.0.2 {
    lvs_method TUN type ipip csum
  }
  real_server 10.0.0.3 {
    lvs_method TUN type gre remcsum
  }
  real_server 10.0.0.4 {
    lvs_method TUN port 5000
  }
  real_server 10.0.0.5 {
    lvs_method TUN type vxlan
  }
  real_server 10.0.0.6 {
    lvs_method TUN typ gre
  }
  real_server 10.0.0.7 {
    lvs_method NAT type gre
  }
}
`);
  assert.deepEqual(r.errors, [
    "keepalived.conf:3:18: error: a gue tunnel needs 'port <PORT>'",
    "keepalived.conf:5:30: error: ipip tunnels do not support the 'csum' checksum option",
    "keepalived.conf:8:29: error: gre tunnels do not support the 'remcsum' checksum option",
    "keepalived.conf:11:20: error: 'port' applies to gue tunnels only, not ipip",
    "keepalived.conf:14:25: error: 'vxlan' is not one of ipip, gue, gre",
    "keepalived.conf:17:20: error: unknown tunnel option 'typ' for 'lvs_method' (did you mean 'type'?); expected NAT|DR|TUN [type ipip|gue|gre] [port <PORT>] [nocsum|csum|remcsum]",
  ]);
  assert.ok(r.warnings.includes('keepalived.conf:20:20: warning: tunnel options apply to lvs_method TUN only; ignored with NAT'));
});

test('cross-keyword checks warn as keepalived does and record its effective values', async () => {
  const r = await compileText(`virtual_server 10.0.0.1 80 {
  sorry_server_inhibit
  ops
  mh-port
  quorum 5
  hysteresis 7
  persistence_granularity 24
  ha_suspend yes
  real_server 10.0.0.2 80 {
    weight 2
  }
  real_server 10.0.0.2 80
}
virtual_server 10.0.0.9 0 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  sorry_server 10.0.0.8 80
  real_server 10.0.0.3 80
}
virtual_server fwmark 4 {
  lvs_sched rr
  lvs_method DR
  protocol TCP
  ha_suspend
  real_server 10.0.0.3 80 {
    TCP_CHECK {
    }
  }
}
`);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    only(r.lines, 'warning'),
    [
      'keepalived.conf:1:1: warning: virtual_server 10.0.0.1 80 sets no lvs_sched; keepalived uses wlc',
      "keepalived.conf:1:1: warning: virtual_server 10.0.0.1 80 sets no protocol; keepalived uses UDP, and so does alived (write 'protocol TCP' if that is meant)",
      'keepalived.conf:1:1: warning: virtual_server 10.0.0.1 80 sets no lvs_method; keepalived uses NAT',
      "keepalived.conf:2:3: warning: 'sorry_server_inhibit' is used without 'sorry_server'; keepalived ignores it",
      "keepalived.conf:4:3: warning: 'mh-port' applies to the mh scheduler only; ignored with lvs_sched wlc",
      "keepalived.conf:7:27: warning: virtual_server 10.0.0.1 80 is IPv4: persistence_granularity is a netmask such as 255.255.255.0; keepalived reads '24' as the netmask 0.0.0.24",
      "keepalived.conf:8:14: warning: 'ha_suspend' takes no value; 'yes' is ignored and 'ha_suspend' is on, as in keepalived",
      'keepalived.conf:5:3: warning: quorum 5 exceeds the total weight of the real servers (2); keepalived lowers it to 2',
      'keepalived.conf:6:3: warning: hysteresis 7 must be below the quorum (2); keepalived uses 1',
      'keepalived.conf:12:3: warning: real_server 10.0.0.2 80 is already defined at line 9; keepalived drops this one',
      'keepalived.conf:14:1: warning: virtual_server 10.0.0.9 has no port, which only a persistent service may have; keepalived sets persistence_timeout 360, and so does alived',
      'keepalived.conf:24:3: warning: protocol is ignored for a fwmark virtual server',
      'keepalived.conf:25:3: warning: ha_suspend cannot be used with a fwmark virtual server; keepalived clears it',
      'keepalived.conf:26:3: warning: fwmark virtual_server fwmark 4: the port of DR real_server 10.0.0.3 80 is ignored by IPVS (keepalived clears it); its checkers connect to it',
    ].sort(byLine),
  );
  const [a, b, c] = r.model!.virtualServer;
  assert.equal(a!.lvsSched, 'wlc');
  assert.equal(a!.protocol, 'UDP');
  assert.equal(a!.sorryServerInhibit, false);
  assert.equal(a!['mh-port'], false);
  assert.equal(a!.quorum, 2);
  assert.equal(a!.hysteresis, 1);
  assert.equal(a!.persistenceTimeout, 360);
  assert.equal(b!.persistenceTimeout, 360);
  assert.equal(c!.protocol, undefined);
  assert.equal(c!.haSuspend, false);
});

function byLine(x: string, y: string): number {
  const n = (s: string) => s.split(':').slice(1, 3).map(Number) as [number, number];
  const [a, b] = [n(x), n(y)];
  return a[0] - b[0] || a[1] - b[1];
}

test('ops needs UDP; real servers must share the virtual server family unless tunnelled', async () => {
  const r = await compileText(`virtual_server 10.0.0.1 53 {
  lvs_sched rr
  lvs_method DR
  protocol TCP
  ops
  ip_family inet6
  real_server ae00::1 53
  real_server ae00::2 53 {
    lvs_method TUN
  }
}
`);
  assert.deepEqual(r.errors, [
    'keepalived.conf:6:3: error: ip_family inet6 conflicts with the IPv4 address of virtual_server 10.0.0.1 53',
    'keepalived.conf:7:3: error: real_server ae00::1 53 is IPv6 but virtual_server 10.0.0.1 53 is IPv4; only TUN real servers may differ',
  ]);
  assert.ok(
    r.warnings.includes('keepalived.conf:5:3: warning: one-packet scheduling (ops) needs protocol UDP; keepalived turns it off for TCP, and so does alived'),
  );
});

test('unknown keywords in virtual_server and real_server suggest the nearest', async () => {
  const r = await compileText(`virtual_server 10.0.0.1 80 {
  lvs_sched rr
  protocol TCP
  persistance_timeout 50
  real_server 10.0.0.2 80 {
    wieght 3
    TCP_CHEK {
    }
  }
}
`);
  assert.deepEqual(r.errors, [
    "keepalived.conf:4:3: error: unknown keyword 'persistance_timeout' in virtual_server (did you mean 'persistence_timeout'?)",
    "keepalived.conf:6:5: error: unknown keyword 'wieght' in real_server (did you mean 'weight'?)",
    "keepalived.conf:7:5: error: unknown keyword 'TCP_CHEK' in real_server (did you mean 'TCP_CHECK'?)",
  ]);
});

test('features: IPVS keywords, checkers and their scripts, and smtp_alert (notify-mail) are acted on', async () => {
  const r = await compileText(`virtual_server 10.0.0.1 80 {
  lvs_sched rr
  protocol TCP
  quorum_up /bin/true
  smtp_alert
  real_server 10.0.0.2 80 {
    TCP_CHECK {
    }
  }
}
`);
  assert.deepEqual(r.errors, []);
  const notActed = r.warnings.filter((l) => l.includes('does not act on')).join('\n');
  assert.doesNotMatch(notActed, /IPVS|virtual_server|lvs_sched/, 'the IPVS reconciler acts on them');
  assert.doesNotMatch(notActed, /health checks/);
  assert.doesNotMatch(notActed, /quorum_up/, 'the check service runs quorum_up');
  assert.doesNotMatch(notActed, /smtp_alert/, 'the mail notifier acts on it');
});

// ---------------------------------------------------------------------------
// keepalived's sample configs

const SAMPLES = path.join(FIXTURES, 'lvs-samples');
const LVS_BLOCKS = new Set(['virtual_server', 'virtual_server_group', 'SSL']);

for (const file of fs.readdirSync(SAMPLES).sort()) {
  test(`sample ${file}: no error inside its LVS blocks`, async () => {
    const r = await compileFile(path.join(SAMPLES, file), { host: permissiveHost, configId: 'node1' });
    const ranges = r.tree.filter((s) => LVS_BLOCKS.has(s.name.text)).map((s) => [s.name.pos.line, s.blockClose?.line ?? s.name.pos.line] as const);
    assert.ok(ranges.length > 0, 'the sample has virtual servers');
    const inside = r.diagnostics.filter((d) => d.severity === 'error' && ranges.some(([a, b]) => d.pos.line >= a && d.pos.line <= b));
    assert.deepEqual(
      inside.map((d) => `${d.pos.line}:${d.pos.col}: ${d.message}`),
      [],
    );
  });
}
