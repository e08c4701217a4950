/**
 * Gate `passwd_file` (Anchore Engine): checks over /etc/passwd (ctx.passwd, its text).
 * Entries are "name:password:uid:gid:gecos:home:shell"; blank lines are ignored and, as in
 * Anchore, a later entry for the same user name replaces an earlier one.
 *
 * Trigger ids: the matched value — the user name, uid, gid or shell (the same value in
 * several entries fires once per entry, with the same id) — and the entry itself for
 * denylist_full_entry; content_not_available: "/etc/passwd".
 * Anchore's older blacklist_* names are kept as duplicate triggers (bundles are normalised
 * to denylist_* anyway).
 */
import type { Gate, PolicyContext, Trigger, TriggerFire } from '../types.js';

interface Entry {
  user: string;
  /** the fields after the user name: password, uid, gid, gecos, home, shell */
  rest: string[];
  line: string;
}

function entries(passwd: string): Entry[] {
  const byUser = new Map<string, Entry>();
  for (const raw of passwd.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const [user = '', ...rest] = line.split(':');
    byUser.set(user, { user, rest, line });
  }
  return [...byUser.values()];
}

type Field = { what: string; of: (e: Entry) => string | undefined };
const USER: Field = { what: 'user', of: (e) => e.user };
const UID: Field = { what: 'uid', of: (e) => e.rest[1] };
const GID: Field = { what: 'gid', of: (e) => e.rest[2] };
const SHELL: Field = { what: 'shell', of: (e) => e.rest[5] };
const ENTRY: Field = { what: 'pentry', of: (e) => e.line };

function denylist(ctx: PolicyContext, values: readonly string[], field: Field, word: 'Denylisted' | 'Blacklisted'): TriggerFire[] {
  if (!ctx.passwd) return [];
  const wanted = new Set(values.map((v) => v.trim()));
  const out: TriggerFire[] = [];
  for (const e of entries(ctx.passwd)) {
    const v = field.of(e);
    if (v !== undefined && wanted.has(v)) out.push({ triggerId: v, message: `${word} ${field.what} '${v}' found in image's /etc/passwd: pentry=${e.line}` });
  }
  return out;
}

/** denylist_<suffix> and its older blacklist_<suffix> name. */
function both(suffix: string, description: string, param: { name: string; description: string; type: 'list' | 'string' }, field: Field): Trigger[] {
  const values = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);
  return (['Denylisted', 'Blacklisted'] as const).map((word) => ({
    name: `${word === 'Denylisted' ? 'denylist' : 'blacklist'}_${suffix}`,
    description,
    params: [{ ...param, required: true }],
    evaluate: (ctx, params) => denylist(ctx, values(params[param.name]), field, word),
  }));
}

const [denyUsers, blackUsers] = both('usernames', 'Triggers if a specified user name is found in /etc/passwd.', { name: 'user_names', type: 'list', description: 'User names that fire the trigger if found in /etc/passwd, e.g. daemon,ftp' }, USER);
const [denyUids, blackUids] = both('userids', 'Triggers if a specified user id is found in /etc/passwd.', { name: 'user_ids', type: 'list', description: 'Numeric user ids that fire the trigger if found in /etc/passwd, e.g. 0,1' }, UID);
const [denyGids, blackGids] = both('groupids', 'Triggers if a specified group id is found in /etc/passwd.', { name: 'group_ids', type: 'list', description: 'Numeric group ids that fire the trigger if found in /etc/passwd, e.g. 999,20' }, GID);
const [denyShells, blackShells] = both('shells', 'Triggers if a specified login shell of any user is found in /etc/passwd.', { name: 'shells', type: 'list', description: 'Login shells to deny, e.g. /bin/bash,/bin/zsh' }, SHELL);
const [denyEntry, blackEntry] = both('full_entry', 'Triggers if the entire specified passwd entry is found in /etc/passwd.', { name: 'entry', type: 'string', description: 'Full entry to match, e.g. ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin' }, ENTRY);

export const passwdFileGate: Gate = {
  name: 'passwd_file',
  description: 'Content checks for /etc/passwd: user names, user and group ids, shells, or full entries.',
  triggers: [
    {
      name: 'content_not_available',
      description: 'Triggers if the /etc/passwd file is not present (or empty) in the evaluated image.',
      params: [],
      evaluate: (ctx) =>
        ctx.passwd && entries(ctx.passwd).length ? [] : [{ triggerId: '/etc/passwd', message: 'Cannot locate /etc/passwd in the image (or it has no entries)' }],
    },
    denyUsers!,
    denyUids!,
    denyGids!,
    denyShells!,
    denyEntry!,
    blackUsers!,
    blackUids!,
    blackGids!,
    blackShells!,
    blackEntry!,
  ],
};
