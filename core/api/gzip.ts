/**
 * Whether an Accept-Encoding header takes gzip (RFC 9110 12.5.3): `gzip`
 * or `*` listed without `q=0`. Without the header, the body goes as it is.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star = false;
  for (const item of header.toLowerCase().split(',')) {
    const [name, ...params] = item.split(';').map((x) => x.trim());
    const q = params.find((p) => p.startsWith('q='));
    const refused = q !== undefined && Number(q.slice(2)) === 0;
    if (name === 'gzip' || name === 'x-gzip') return !refused;
    if (name === '*') star = !refused;
  }
  return star;
}
