import * as net from 'node:net';
import {
  ALIVED_VERSION,
  block,
  checkerCommonFields,
  checkerConnectionFields,
  str,
  sub,
  word,
  type AlivedPlugin,
  type BlockOf,
  type Checker,
  type CheckerContext,
  type Endpoint,
} from '../../core/sdk';
import { checkConnection } from '../shared/connection';
import { abortWords, checkFwmark, describeError, fwmarkNote, hostPort, settleOnce, tcpConnectOptions, type ConnectionConfig } from '../shared/net';

/**
 * `SMTP_CHECK { ... }`: connects, reads the 220 greeting, sends HELO and
 * QUIT (check_smtp.c). The deprecated `host { }` blocks each add one more
 * connection to check, with the same keywords as the checker.
 */

/** `host { connect_ip ... }`: deprecated; keepalived turns each into one more SMTP check. */
export const smtpHostSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
  },
  {
    check: (v, ctx, stmt) => {
      checkConnection(v, ctx, stmt);
      checkFwmark(v, ctx, stmt);
    },
  },
);

export const smtpCheckSchema = block(
  {
    ...checkerConnectionFields,
    ...checkerCommonFields,
    helo_name: word(str()).default('smtpchecker.keepalived.org').doc('name sent with HELO'),
    host: sub(smtpHostSchema).repeatable().deprecated('the SMTP_CHECK host block is deprecated: write one SMTP_CHECK per address; accepted'),
  },
  {
    check: (v, ctx, stmt) => {
      checkConnection(v, ctx, stmt);
      checkFwmark(v, ctx, stmt);
    },
  },
);

export type SmtpCheckConfig = BlockOf<typeof smtpCheckSchema>;

/** a reply line longer than this is not SMTP (RFC 5321 allows 512 octets); keepalived's buffer is 512 bytes too */
const MAX_LINE = 4096;

/** the steps of the conversation, in the words a timeout or a closed connection reports */
type Step = 'connecting' | 'waiting for the greeting' | 'waiting for the HELO reply' | 'waiting for the QUIT reply';

interface Reply {
  readonly code: number;
  /** the last line, as the server sent it */
  readonly line: string;
}

/**
 * One SMTP conversation, keepalived's smtp_engine_thread(): read the
 * greeting (220), send `HELO <helo_name>`, expect 250, send QUIT and read
 * its reply (any reply: keepalived only needs one). Multi-line replies
 * (`220-...` then `220 ...`) are read to their last line, as RFC 5321 has
 * them; keepalived 2.2.8 reads only the first line and so fails them.
 */
export function smtpConversation(target: Endpoint, conn: ConnectionConfig, heloName: string, signal: AbortSignal): Promise<{ ok: boolean; text: string }> {
  let step: Step = 'connecting';
  return settleOnce(
    signal,
    (finish) => {
      const sock = net.connect(tcpConnectOptions(target, conn));
      let buf = '';
      const fail = (text: string): void => finish({ ok: false, message: text });
      const send = (line: string, next: Step): void => {
        step = next;
        sock.write(`${line}\r\n`);
      };
      const onReply = (r: Reply): void => {
        switch (step) {
          case 'waiting for the greeting':
            if (r.code !== 220) return fail(`greeting '${r.line}', expected 220`);
            return send(`HELO ${heloName}`, 'waiting for the HELO reply');
          case 'waiting for the HELO reply':
            if (r.code !== 250) return fail(`HELO ${heloName} answered '${r.line}', expected 250`);
            return send('QUIT', 'waiting for the QUIT reply');
          case 'waiting for the QUIT reply':
            return finish({ ok: true, message: 'greeting 220, HELO 250, QUIT answered' });
          case 'connecting':
            return;
        }
      };
      sock.once('connect', () => (step = 'waiting for the greeting'));
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          // `250-...` continues the reply; `250 ...` or a bare `250` ends it
          if (/^\d{3}-/.test(line)) continue;
          const m = /^(\d{3})(?: |$)/.exec(line);
          onReply({ code: m ? Number(m[1]) : -1, line: line.length > 120 ? `${line.slice(0, 117)}...` : line });
        }
        if (buf.length > MAX_LINE) fail(`a reply line is longer than ${MAX_LINE} bytes ${step}`);
      });
      sock.on('end', () => fail(`the server closed the connection ${step}`));
      sock.on('error', (err) => fail(step === 'connecting' ? describeError(err) : `${describeError(err)} ${step}`));
      return () => sock.destroy();
    },
    () => ({ ok: false, message: `${abortWords(signal)} ${step}` }),
  ).then((r) => ({ ok: r.ok, text: r.message ?? '' }));
}

/**
 * The endpoints one SMTP_CHECK checks: its own, and one per deprecated
 * `host` block (each defaults to the real server's address and port). As
 * keepalived's smtp_check_end_handler(), a checker that sets no connection
 * keyword of its own but has host blocks checks only those.
 */
function endpoints(config: SmtpCheckConfig, ctx: CheckerContext): Array<{ target: Endpoint; conn: ConnectionConfig }> {
  const own =
    config.host.length === 0 ||
    [config.connectIp, config.connectPort, config.bindto, config.bindPort, config.bindIf, config.fwmark].some((v) => v !== undefined);
  const out = own ? [{ target: ctx.target, conn: config as ConnectionConfig }] : [];
  for (const h of config.host) {
    out.push({ target: { address: h.connectIp?.address ?? ctx.realServer.address, port: h.connectPort ?? ctx.realServer.port }, conn: h });
  }
  return out;
}

export function createSmtpChecker(config: SmtpCheckConfig, ctx: CheckerContext): Checker {
  const targets = endpoints(config, ctx);
  return {
    async check(signal) {
      const passed: string[] = [];
      for (const { target, conn } of targets) {
        const where = `SMTP_CHECK ${hostPort(target.address, target.port)}`;
        const r = await smtpConversation(target, conn, config.heloName, signal);
        if (!r.ok) return { ok: false, message: `${where}: ${r.text}${fwmarkNote(conn)}` };
        passed.push(`${where}: ${r.text}${fwmarkNote(conn)}`);
      }
      return { ok: true, message: passed.join('; ') };
    },
  };
}

const plugin: AlivedPlugin = {
  name: 'check-smtp',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({
      keyword: 'SMTP_CHECK',
      schema: smtpCheckSchema,
      create: createSmtpChecker,
      // keepalived's smtp_final(): the reason goes in the mail
      alertText: (up, message) => (up ? '=> CHECK succeed on service <=' : `=> CHECK failed on service : ${message} <=`),
    });
  },
};

export default plugin;
