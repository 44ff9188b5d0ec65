import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText } from '../helpers/config';
import { CHECKER_PLUGINS } from '../../plugins/checkers';
import { PluginHost } from '../../core/plugin/host';
import { silentLogger } from '../../core/log/logger';

/** A virtual server whose one real server holds `checkers` (lines 6 onwards of the file). */
const vs = (checkers: string, top = ''): string => `${top}virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 10.0.0.2 80 {
${checkers}
  }
}
`;

/** the values of the checkers of the first real server, by keyword */
async function checkers(text: string): Promise<Array<{ keyword: string; value: any }>> {
  const r = await compileText(text);
  assert.deepEqual(r.errors, []);
  return r.model!.virtualServer[0]!.realServer[0]!.extensions.map((e) => ({ keyword: e.keyword, value: e.value }));
}

const notes = (lines: string[]) => lines.filter((l) => / note: /.test(l));
const warnings = (lines: string[]) => lines.filter((l) => / warning: /.test(l) && !l.includes('does not act on'));

test("CHECKER_PLUGINS register every keepalived checker, alived's MYSQL_CHECK and presets, and SSL at the top level", async () => {
  const host = new PluginHost({ log: silentLogger });
  for (const p of CHECKER_PLUGINS) await host.apply(p, { builtin: true });
  assert.deepEqual(host.registry.names('real_server').sort(), [
    'BFD_CHECK',
    'DNS_CHECK',
    'FILE_CHECK',
    'HAPROXY_CHECK',
    'HTTP_GET',
    'MISC_CHECK',
    'MYSQL_CHECK',
    'NGINX_CHECK',
    'PING_CHECK',
    'SMTP_CHECK',
    'SSL_GET',
    'TCP_CHECK',
    'TOMCAT_CHECK',
    'UDP_CHECK',
  ]);
  assert.deepEqual(host.registry.names('root'), ['SSL']);
  for (const p of CHECKER_PLUGINS) assert.match(p.name, /^check-[a-z]+$/);
});

test('TCP_CHECK: typed values; an unknown keyword suggests the nearest', async () => {
  const [tcp] = await checkers(
    vs(`    TCP_CHECK {
      connect_ip 10.0.0.3
      connect_port 8080
      bindto 10.0.0.9
      bind_port 40000
      connect_timeout 2.5
      fwmark 7
      retry 0
      delay_before_retry 1.5
      warmup 3
      delay_loop 10
      alpha no
      log_all_failures
    }`),
  );
  assert.equal(tcp!.keyword, 'TCP_CHECK');
  assert.deepEqual(tcp!.value.connectIp, { family: 4, address: '10.0.0.3' });
  assert.equal(tcp!.value.connectPort, 8080);
  assert.equal(tcp!.value.bindPort, 40000);
  assert.equal(tcp!.value.connectTimeout, 2.5);
  assert.equal(tcp!.value.fwmark, 7);
  assert.equal(tcp!.value.retry, 0);
  assert.equal(tcp!.value.delayBeforeRetry, 1.5);
  assert.equal(tcp!.value.delayLoop, 10);
  assert.equal(tcp!.value.alpha, false);
  assert.equal(tcp!.value.logAllFailures, true);

  const r = await compileText(
    vs(`    TCP_CHECK {
      conect_port 80
      connect_port 0
      url {
      }
    }`),
  );
  assert.deepEqual(r.errors, [
    "keepalived.conf:7:7: error: unknown keyword 'conect_port' in TCP_CHECK (did you mean 'connect_port'?)",
    'keepalived.conf:8:20: error: 0 is out of range: expected 1..65535',
    "keepalived.conf:9:7: error: unknown keyword 'url' in TCP_CHECK",
  ]);
});

test('connection keywords: families of connect_ip and bindto; link-local needs bind_if', async () => {
  const r = await compileText(
    vs(`    PING_CHECK {
      connect_ip fe80::1
      bindto 10.0.0.9
    }
    PING_CHECK {
      connect_ip fe80::1
      bind_if eth0
    }`),
  );
  assert.deepEqual(r.errors, [
    'keepalived.conf:7:7: error: PING_CHECK: the link-local connect_ip fe80::1 needs a bind_if',
    'keepalived.conf:8:7: error: PING_CHECK: bindto 10.0.0.9 and connect_ip fe80::1 are of different address families',
  ]);
});

test('HTTP_GET: urls, status code ranges, digests, http_protocol; nb_get_retry is the old retry', async () => {
  const r = await compileText(
    vs(`    HTTP_GET {
      nb_get_retry 4
      http_protocol 1.0c
      virtualhost www.example.com
      fast_recovery
      enable_sni
      url {
        path /health
        digest 9B3A0C85A887A256D6939DA88AABD8CD
        status_code 200-299 400-499 503
        status_code 505
        virtualhost api.example.com
      }
      url {
        path /
      }
    }`),
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(notes(r.lines), ["keepalived.conf:7:7: note: 'nb_get_retry' is the old spelling of 'retry'; accepted"]);
  const http = r.model!.virtualServer[0]!.realServer[0]!.extensions[0]!;
  assert.equal(http.keyword, 'HTTP_GET');
  const v = http.value as any;
  assert.equal(v.retry, 4);
  assert.equal(v.httpProtocol, '1.0C');
  assert.equal(v.virtualhost, 'www.example.com');
  assert.equal(v.fastRecovery, true);
  assert.equal(v.enableSni, true);
  assert.equal(v.url.length, 2);
  assert.equal(v.url[0].path, '/health');
  assert.equal(v.url[0].digest, '9b3a0c85a887a256d6939da88aabd8cd');
  assert.deepEqual(v.url[0].statusCode, [
    [
      { min: 200, max: 299 },
      { min: 400, max: 499 },
      { min: 503, max: 503 },
    ],
    [{ min: 505, max: 505 }],
  ]);
  assert.equal(v.url[0].virtualhost, 'api.example.com');
  // no status_code: keepalived's default 200-299
  assert.deepEqual(v.url[1].statusCode, [[{ min: 200, max: 299 }]]);
  assert.equal(v.url[1].regexNoMatch, false);
});

test('HTTP_GET: bad status codes, digests, protocol; a url needs a path and a checker a url', async () => {
  const r = await compileText(
    vs(`    HTTP_GET {
      http_protocol 2.0
      url {
        path /
        status_code 299-200 600 2xx 100-700
        digest 9b3a0c85
      }
      url {
        path /x
        digest 9b3a0c85a887a256d6939da88aabd8cg
      }
      url {
        digest 9b3a0c85a887a256d6939da88aabd8cd
      }
    }
    HTTP_GET {
    }`),
  );
  assert.deepEqual(r.errors, [
    "keepalived.conf:7:21: error: '2.0' is not one of 1.0, 1.0C, 1.1 (did you mean '1.0'?)",
    "keepalived.conf:10:21: error: status code range '299-200' is empty: 299 is above 200",
    'keepalived.conf:10:29: error: status code 600 is out of range: expected 100..599',
    "keepalived.conf:10:33: error: '2xx' is not an HTTP status code or range (e.g. 200 or 200-299)",
    "keepalived.conf:10:37: error: status code 700 in '100-700' is out of range: expected 100..599",
    "keepalived.conf:11:16: error: digest '9b3a0c85' has 8 characters; an MD5 digest (as genhash prints it) has 32 hexadecimal characters",
    "keepalived.conf:15:16: error: digest '9b3a0c85a887a256d6939da88aabd8cg' has a character that is not hexadecimal: 'g' at offset 31",
    "keepalived.conf:17:7: error: 'url' lacks required 'path'",
    "keepalived.conf:21:5: error: 'HTTP_GET' needs at least one url { path <PATH> ... } block",
  ]);
});

test('HTTP_GET regex: compiled as a check, errors at the pattern; PCRE-only syntax is a warning', async () => {
  const r = await compileText(
    vs(`    HTTP_GET {
      url {
        path /a
        regex "(abc"
      }
      url {
        path /b
        regex "(?i)ready"
      }
      url {
        path /c
        regex "^ok$"
        regex_options caseless multiline
        regex_options dotall
        regex_no_match
        regex_min_offset 10
        regex_max_offset 5
        regex_stack 100 50
      }
      url {
        path /d
        regex_no_match
      }
      url {
        path /e
        regex "x"
        regex_options caseles
      }
    }`),
  );
  assert.deepEqual(r.errors, [
    "keepalived.conf:9:15: error: regex '(abc' does not compile: Unterminated group",
    "keepalived.conf:32:23: error: 'caseles' is not one of allow_empty_class, alt_bsux, auto_callout, caseless, dollar_endonly, dotall, dupnames, extended, firstline, match_unset_backref, multiline, never_ucp, never_utf, no_auto_capture, no_auto_possess, no_dotstar_anchor, no_start_optimize, ucp, ungreedy, utf, never_backslash_c, alt_circumflex, alt_verbnames, use_offset_limit (did you mean 'caseless'?)",
  ]);
  assert.deepEqual(warnings(r.lines), [
    "keepalived.conf:13:15: warning: regex '(?i)ready' uses PCRE2 syntax that alived cannot verify (JavaScript says: Invalid group); keepalived compiles it at start-up",
    'keepalived.conf:21:9: warning: regex_min_offset 10 is above regex_max_offset 5; keepalived ignores both',
    'keepalived.conf:23:9: warning: regex_stack start 100 exceeds its maximum 50; keepalived ignores it',
    "keepalived.conf:27:9: warning: 'regex_no_match' without 'regex' in this url; keepalived ignores it",
  ]);
});

test('SSL_GET takes tls_compliant (HTTP_GET does not); the SSL block configures its context', async () => {
  const r = await compileText(
    vs(
      `    SSL_GET {
      tls_compliant
      enable_sni no
      url {
        path /
        tls_compliant off
      }
    }
    HTTP_GET {
      tls_compliant
      url {
        path /
      }
    }`,
      `SSL {
  password secret
  ca /etc/ssl/ca.pem
  certificate /etc/ssl/cert.pem
  key /etc/ssl/key.pem
}
`,
    ),
  );
  // the SSL block shifts the virtual server by 6 lines
  assert.deepEqual(r.errors, ["keepalived.conf:21:7: error: unknown keyword 'tls_compliant' in HTTP_GET"]);
  const ok = await compileText(
    vs(
      `    SSL_GET {
      tls_compliant
      url {
        path /
        tls_compliant off
      }
    }`,
      'SSL {\n  ca /etc/ssl/ca.pem\n}\n',
    ),
  );
  assert.deepEqual(ok.errors, []);
  const ssl = ok.model!.extensions.find((e) => e.keyword === 'SSL')!.value as any;
  assert.equal(ssl.ca, '/etc/ssl/ca.pem');
  const get = ok.model!.virtualServer[0]!.realServer[0]!.extensions[0]!.value as any;
  assert.equal(get.tlsCompliant, true);
  assert.equal(get.url[0].tlsCompliant, false);
});

test('MISC_CHECK: a script line, misc_dynamic, user; no connection keywords', async () => {
  const [misc] = await checkers(
    vs(`    MISC_CHECK {
      misc_path "/usr/bin/check.sh --port 80"
      misc_timeout 5
      misc_dynamic
      user nobody nogroup
      retry 2
    }`),
  );
  assert.equal(misc!.keyword, 'MISC_CHECK');
  assert.deepEqual(misc!.value.miscPath.argv, ['/usr/bin/check.sh', '--port', '80']);
  assert.equal(misc!.value.miscTimeout, 5);
  assert.equal(misc!.value.miscDynamic, true);
  assert.deepEqual(misc!.value.user, { user: 'nobody', group: 'nogroup' });

  const r = await compileText(
    vs(`    MISC_CHECK {
      misc_path /usr/bin/check.sh nobody
      connect_port 80
    }
    MISC_CHECK {
      misc_timeout 5
    }`),
  );
  assert.deepEqual(r.errors, [
    "keepalived.conf:8:7: error: unknown keyword 'connect_port' in MISC_CHECK",
    "keepalived.conf:10:5: error: 'MISC_CHECK' lacks required 'misc_path'",
  ]);
  assert.deepEqual(warnings(r.lines), [
    "keepalived.conf:7:35: warning: keepalived ignores 'nobody' after the misc_path command; quote a command with arguments, and set the user with 'user USERNAME [GROUPNAME]'",
  ]);
});

test('SMTP_CHECK: helo_name, its default, and the deprecated host blocks', async () => {
  const r = await compileText(
    vs(`    SMTP_CHECK {
      connect_timeout 10
      helo_name "mail.example.com"
      host {
        connect_ip 10.0.0.3
        connect_port 587
        bindto 10.0.0.9
      }
    }
    SMTP_CHECK {
    }`),
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(notes(r.lines), [
    "keepalived.conf:9:7: note: 'host' is deprecated: the SMTP_CHECK host block is deprecated: write one SMTP_CHECK per address; accepted",
  ]);
  const [a, b] = r.model!.virtualServer[0]!.realServer[0]!.extensions.map((e) => e.value as any);
  assert.equal(a.heloName, 'mail.example.com');
  assert.equal(a.host.length, 1);
  assert.equal(a.host[0].connectPort, 587);
  assert.equal(b.heloName, 'smtpchecker.keepalived.org');
  assert.deepEqual(b.host, []);
});

test("DNS_CHECK: the query type is one of keepalived's, the name has no empty label", async () => {
  const [dns, dflt] = await checkers(
    vs(`    DNS_CHECK {
      type aaaa
      name www.example.com.
    }
    DNS_CHECK {
    }`),
  );
  assert.equal(dns!.value.type, 'AAAA');
  assert.equal(dns!.value.name, 'www.example.com.');
  assert.equal(dflt!.value.type, 'SOA');
  assert.equal(dflt!.value.name, '.');

  const r = await compileText(
    vs(`    DNS_CHECK {
      type MXX
      name example..com
    }`),
  );
  assert.deepEqual(r.errors, [
    "keepalived.conf:7:12: error: 'MXX' is not one of A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG, DNSKEY (did you mean 'MX'?)",
    "keepalived.conf:8:12: error: DNS name 'example..com' has an empty label",
  ]);
});

test("UDP_CHECK: payloads in keepalived's free hex form, reply patterns with x, lengths", async () => {
  const r = await compileText(
    vs(`    UDP_CHECK {
      payload Ab12f 3 456 546443123
      require_reply 01x2 X
      min_reply_length 300
    }
    UDP_CHECK {
      require_reply
    }`),
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(warnings(r.lines), ['keepalived.conf:9:7: warning: min_reply_length 300 is above max_reply_length 255: the check will always fail']);
  const [a, b] = r.model!.virtualServer[0]!.realServer[0]!.extensions.map((e) => e.value as any);
  assert.deepEqual(a.payload.data, [0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03]);
  assert.equal(a.payload.mask, undefined);
  assert.deepEqual(a.requireReply.expect, { data: [0x01, 0x02, 0x00], mask: [0xff, 0x0f, 0xf0] });
  assert.equal(a.maxReplyLength, 255);
  assert.deepEqual(b.requireReply, { expect: undefined });

  const bad = await compileText(
    vs(`    UDP_CHECK {
      payload 12zz
    }`),
  );
  assert.deepEqual(bad.errors, ["keepalived.conf:7:15: error: 'z' in '12zz' is not a hexadecimal digit"]);
});

test('FILE_CHECK and BFD_CHECK: their own keywords; they name a track_file and a bfd_instance', async () => {
  const defs = `track_file tf1 {
  file /run/alived/tf1
}
bfd_instance bfd1 {
  neighbor_ip 10.0.0.2
}
`;
  const [file, bfd] = await checkers(
    vs(
      `    FILE_CHECK {
      track_file tf1
      weight -10 reverse
    }
    BFD_CHECK {
      name bfd1
      alpha
    }`,
      defs,
    ),
  );
  assert.equal(file!.value.trackFile, 'tf1');
  assert.deepEqual(file!.value.weight, { weight: -10, reverse: true });
  assert.equal(bfd!.value.name, 'bfd1');
  assert.equal(bfd!.value.alpha, true);

  const r = await compileText(
    vs(`    FILE_CHECK {
      weight 10 backwards
      dynamic
      track_file tf2
    }
    BFD_CHECK {
      name bfd2
      retry 3
    }
    BFD_CHECK {
      name bfd3
    }`),
  );
  assert.deepEqual(r.errors, [
    "keepalived.conf:7:17: error: 'backwards' is not one of reverse, noreverse",
    "keepalived.conf:9:18: error: FILE_CHECK refers to track_file 'tf2', which is not defined",
    "keepalived.conf:12:12: error: BFD_CHECK refers to bfd_instance 'bfd2', which is not defined",
    "keepalived.conf:13:7: error: unknown keyword 'retry' in BFD_CHECK",
    "keepalived.conf:16:12: error: BFD_CHECK refers to bfd_instance 'bfd3', which is not defined",
  ]);
  assert.ok(
    r.warnings.includes(
      "keepalived.conf:8:7: warning: 'dynamic' is in keepalived's manual, but keepalived 2.2.8 does not accept it in FILE_CHECK; the file's value always adjusts the weight",
    ),
  );
  const missing = await compileText(
    vs(`    FILE_CHECK {
    }
    BFD_CHECK {
    }
    FILE_CHECK {
      track_file nowhere
    }`),
  );
  assert.deepEqual(missing.errors, [
    "keepalived.conf:6:5: error: 'FILE_CHECK' lacks required 'track_file'",
    "keepalived.conf:8:5: error: 'BFD_CHECK' lacks required 'name'",
    "keepalived.conf:11:18: error: FILE_CHECK refers to track_file 'nowhere', which is not defined",
  ]);
});

test('health checks have landed: checker keywords draw no "not acted on" warning', async () => {
  const r = await compileText(
    vs(`    TCP_CHECK {
      connect_timeout 3
    }`),
  );
  assert.ok(!r.warnings.some((l) => /does not act on health checks/.test(l)), r.warnings.join('\n'));
  assert.ok(!r.warnings.some((l) => /not applied: .*TCP_CHECK/.test(l)), r.warnings.join('\n'));
});
