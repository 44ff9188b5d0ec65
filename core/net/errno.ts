import * as util from 'node:util';

/**
 * A system error number (negative, as the kernel and Node report it) as its
 * name (ENODEV, or E<n> when Node does not know it) and Node's description
 * ("no such device"), undefined when Node does not know it.
 */
export function errnoName(errno: number): { name: string; description: string | undefined } {
  const entry = util.getSystemErrorMap().get(errno);
  return entry ? { name: entry[0], description: entry[1] } : { name: `E${-errno}`, description: undefined };
}

/** "No such device (ENODEV)"'s first part: Node's description with a capital, or `error <n>` when it has none. */
export function errnoReason(errno: number): { name: string; text: string } {
  const { name, description } = errnoName(errno);
  return { name, text: description ? description.charAt(0).toUpperCase() + description.slice(1) : `error ${-errno}` };
}
