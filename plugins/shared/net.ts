import { describeError, keywordPos, onAbort, type CheckCtx, type CheckResult, type ConnectionConfig, type Stmt } from '../../core/sdk';

/**
 * What the network checkers (TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK,
 * DNS_CHECK) share at run time: where to connect from and to, the words of
 * their messages, and settling exactly once when the signal aborts. A helper
 * module, not a plugin. The socket helpers are the SDK's (core/net/socket.ts,
 * which `alived genhash` uses too), passed on here for the checkers.
 */
export { abortWords, describeError, hostPort, onAbort, scoped, tcpConnectOptions, type ConnectionConfig } from '../../core/sdk';

/**
 * Node.js offers no setsockopt(), so SO_MARK cannot be set on a check's
 * socket: with fwmark the check traffic goes out unmarked. Every result of
 * such a checker says so, rather than the mark being silently dropped.
 */
export function fwmarkNote(config: ConnectionConfig): string {
  return config.fwmark === undefined ? '' : ` (fwmark ${config.fwmark} not set: Node.js cannot set SO_MARK on a socket)`;
}

/** `alived -t`: a warning where fwmark is written in a checker that cannot apply it. */
export function checkFwmark(v: { fwmark?: number }, ctx: CheckCtx, stmt: Stmt): void {
  if (v.fwmark === undefined) return;
  ctx.diags.warning(
    'ALIVED_CONFIG_NO_EFFECT',
    keywordPos(stmt, 'fwmark'),
    `${stmt.name.text}: fwmark ${v.fwmark} is not applied: Node.js cannot set SO_MARK on a socket, so the check traffic goes out unmarked`,
  );
}

/**
 * A promise for one check's result that settles once: the first of
 * success, failure and abort wins; `cleanup` runs exactly once, whichever it
 * was, and its own errors never escape (a check must settle, not throw).
 */
export function settleOnce(
  signal: AbortSignal,
  run: (finish: (r: CheckResult) => void) => (() => void) | void,
  onAborted: () => CheckResult,
): Promise<CheckResult> {
  return new Promise<CheckResult>((resolve) => {
    let done = false;
    let cleanup: (() => void) | void;
    let stopListening: () => void = () => {};
    const finish = (r: CheckResult): void => {
      if (done) return;
      done = true;
      stopListening();
      try {
        cleanup?.();
      } catch {
        // closing a socket that is already gone is not the check's result
      }
      resolve(r);
    };
    stopListening = onAbort(signal, () => finish(onAborted()));
    try {
      cleanup = run(finish);
      // run() may have finished synchronously, before cleanup was known
      if (done) cleanup?.();
    } catch (err) {
      finish({ ok: false, message: describeError(err) });
    }
  });
}
