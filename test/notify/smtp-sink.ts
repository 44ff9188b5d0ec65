/**
 * A real SMTP server for lab tests, run inside a lab host (`node smtp-sink.js
 * ADDRESS PORT`): prints `{"ready":true}`, then one JSON line per mail
 * received (subject, from, to, helo, message-id), on stdout.
 */
import { smtpReceiver } from './receivers';

async function main(): Promise<void> {
  const [address, port] = [process.argv[2] ?? '127.0.0.1', Number(process.argv[3] ?? 2525)];
  const r = await smtpReceiver({ port, host: address });
  const push = r.mails.push.bind(r.mails);
  r.mails.push = (...ms) => {
    for (const m of ms)
      process.stdout.write(
        `${JSON.stringify({ subject: m.headers.subject, from: m.from, to: m.to, helo: m.helo, messageId: m.headers['message-id'], body: m.body })}\n`,
      );
    return push(...ms);
  };
  process.stdout.write('{"ready":true}\n');
  process.on('SIGTERM', () => void r.close().then(() => process.exit(0)));
}
void main();
