import { AlivedError } from '../errors';
import { errnoReason } from '../net/errno';

/**
 * An rtnetlink request failed, or alived refused to send it
 * (ALIVED_NETLINK_FAILED): the message says what was asked and why; `errno`
 * is the kernel's errno name (EEXIST, ENODEV, ESRCH, ...), or EINVAL /
 * EOPNOTSUPP for what alived refused itself.
 */
export class RtnlError extends AlivedError {
  /** the negated errno the kernel answered; undefined for errors alived found itself */
  readonly errnoNumber: number | undefined;
  constructor(message: string, errno: string, errnoNumber?: number) {
    super('ALIVED_NETLINK_FAILED', message, { errno });
    this.errnoNumber = errnoNumber;
  }
}

/** The kernel refused `what` with `errno`: "what: No such device (ENODEV)". */
export function kernelError(what: string, errno: number): RtnlError {
  const { name, text } = errnoReason(errno);
  return new RtnlError(`${what}: ${text} (${name})`, name, errno);
}
