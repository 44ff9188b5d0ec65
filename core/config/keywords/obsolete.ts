/**
 * Keywords that an older keepalived read and keepalived 2.2 no longer knows
 * where they are written. keepalived logs "unknown keyword" and goes on, so a
 * config that has run for years still has them; alived does the same, with a
 * warning that says what the keyword was and that nothing acts on it. Any
 * other unknown keyword stays an error (a typo, with its did-you-mean).
 */
export interface ObsoleteKeyword {
  /** the blocks (as written: `virtual_server`, `TCP_CHECK`, `global_defs`) where it is ignored */
  readonly in: (block: string) => boolean;
  /** what it was, and what to write instead if anything */
  readonly note: string;
}

const named =
  (...names: string[]) =>
  (block: string): boolean =>
    names.includes(block);
/** keepalived's checkers are the blocks named *_CHECK (HTTP_GET and SSL_GET read nb_get_retry themselves) */
const checker = (block: string): boolean => block.endsWith('_CHECK');

export const OBSOLETE_KEYWORDS: ReadonlyMap<string, ObsoleteKeyword> = new Map<string, ObsoleteKeyword>([
  ['nat_mask', { in: named('virtual_server'), note: 'the netmask of NAT real servers in keepalived up to 1.2.19; the kernel never used it' }],
  [
    'lvs_id',
    { in: named('global_defs'), note: "the LVS sync daemon's id in keepalived up to 1.1.7; today: lvs_sync_daemon <INTERFACE> <VRRP_INSTANCE> id <ID>" },
  ],
  [
    'nb_get_retry',
    {
      in: checker,
      note: "HTTP_GET's old spelling of retry, which keepalived reads only in HTTP_GET and SSL_GET; here it does not count: write retry",
    },
  ],
]);

/** The entry for `keyword` written in a block named `block`, if keepalived ignores it there. */
export function obsoleteKeyword(keyword: string, block: string): ObsoleteKeyword | undefined {
  const hit = OBSOLETE_KEYWORDS.get(keyword);
  return hit?.in(block) ? hit : undefined;
}
