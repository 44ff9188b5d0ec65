/**
 * Accept mode as keepalived 2.2.7 resolves it (vrrp.c vrrp_complete_instance),
 * in a module of its own without imports: the VRRP settings use it too, and
 * the VRRP process must not load the config keywords.
 */

/** The accept mode the instance runs with, as keepalived resolves it (the model holds the later of accept / no_accept). */
export function acceptMode(v: { accept?: true; noAccept?: true; priority?: number; state?: string }, strict: boolean, version: number): boolean {
  const owner = v.priority === 255 || (v.priority === undefined && v.state === 'MASTER');
  // the owner never drops its own addresses' traffic (vrrp_handle_accept_mode), whatever it says
  if (owner) return true;
  const configured = v.accept ? true : v.noAccept ? false : undefined;
  const accept = configured ?? !strict;
  return accept && strict && version === 2 ? false : accept;
}
