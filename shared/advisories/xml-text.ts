/**
 * The few XML reading helpers the fixed-shape advisory documents need (Amazon Linux updateinfo,
 * Oracle's ELSA OVAL): entity decoding, an element's attributes, the text of the first element
 * of a name (CDATA kept literal). No general XML parser: each reader cuts its own elements.
 */
const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** The five predefined entities and numeric character references; anything else stays as written. */
export function decode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (all, e: string) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(n) && n >= 0 && n <= 0x10ffff ? String.fromCodePoint(n) : all;
    }
    return Object.hasOwn(ENTITIES, e) ? ENTITIES[e]! : all;
  });
}

/** The attributes of a start tag's attribute text, decoded. */
export function attrs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) out[m[1]!] = decode(m[2] ?? m[3] ?? '');
  return out;
}

/** The decoded text of the first `<tag>` element in `xml`; CDATA sections are taken literally. */
export function text(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
  if (!m) return undefined;
  return decode(m[1]!.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_, c: string) => c.replace(/&/g, '&amp;').replace(/</g, '&lt;')));
}
