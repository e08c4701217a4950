/**
 * The files, secret_scans and passwd_file gates on hand-built contexts: each trigger once
 * firing and once not, with params as the engine hands them over (lists as string[],
 * regexes compiled by RE2JS, defaults applied).
 */
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { filesGate } from '../../shared/policy/gates/files.js';
import { passwdFileGate } from '../../shared/policy/gates/passwd-file.js';
import { secretScansGate } from '../../shared/policy/gates/secret-scans.js';
import type { Gate, ParamValues, PolicyContext, TriggerFire } from '../../shared/policy/types.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin',
  '',
].join('\n');

function ctx(extra: Partial<PolicyContext> = {}): PolicyContext {
  return {
    image: { reference: 'oci:x:1', digest: 'sha256:m', id: 'sha256:c', architecture: 'amd64', os: 'linux', size: 1, layerCount: 1 },
    packages: [],
    now: new Date('2025-01-01T00:00:00Z'),
    files: [
      { path: '/usr/bin/passwd', mode: 0o104755, size: 100, type: 'file', layer: 'sha256:l1' },
      { path: '/usr/bin/wall', mode: 0o102755, size: 100, type: 'file', layer: 'sha256:l1' },
      { path: '/etc/ssl/private/server.pem', mode: 0o100600, size: 10, type: 'file', layer: 'sha256:l2' },
      { path: '/etc/hostname', mode: 0o100644, size: 5, type: 'file', layer: 'sha256:l1' },
    ],
    contentMatches: [
      { name: 'AWS_ACCESS_KEY', path: '/app/.env', layer: 'sha256:l2' },
      { name: 'PRIV_KEY', path: '/etc/ssl/private/server.pem', layer: 'sha256:l2' },
      { name: 'ALPINE_NULL_ROOT', path: '/etc/shadow', layer: 'sha256:l1' },
    ],
    passwd: PASSWD,
    ...extra,
  };
}

function run(gate: Gate, trigger: string, c: PolicyContext, params: ParamValues = {}): TriggerFire[] {
  const t = gate.triggers.find((x) => x.name === trigger);
  if (!t) throw new Error(`no trigger ${gate.name}/${trigger}`);
  return t.evaluate(c, params);
}
const ids = (fires: TriggerFire[]) => fires.map((f) => f.triggerId);
const re = (p: string) => RE2JS.compile(p);

describe('files gate', () => {
  it('content_regex_match fires per matched file, optionally for one regex name', () => {
    expect(ids(run(filesGate, 'content_regex_match', ctx()))).toEqual(['AWS_ACCESS_KEY+/app/.env', 'PRIV_KEY+/etc/ssl/private/server.pem', 'ALPINE_NULL_ROOT+/etc/shadow']);
    const fires = run(filesGate, 'content_regex_match', ctx(), { regex_name: 'ALPINE_NULL_ROOT' });
    expect(ids(fires)).toEqual(['ALPINE_NULL_ROOT+/etc/shadow']);
    expect(fires[0]!.message).toBe('File content analyzer found regexp match in container: file=/etc/shadow regexp=ALPINE_NULL_ROOT');
  });

  it('content_regex_match does not fire for another name, or without matches', () => {
    expect(run(filesGate, 'content_regex_match', ctx(), { regex_name: 'DOCKER_AUTH' })).toEqual([]);
    expect(run(filesGate, 'content_regex_match', ctx({ contentMatches: [] }))).toEqual([]);
    expect(run(filesGate, 'content_regex_match', ctx({ contentMatches: undefined }))).toEqual([]);
  });

  it('name_match fires per path the regex matches from its start', () => {
    expect(ids(run(filesGate, 'name_match', ctx(), { regex: re('.*\\.pem') }))).toEqual(['/etc/ssl/private/server.pem']);
    expect(ids(run(filesGate, 'name_match', ctx(), { regex: re('/usr/bin/') }))).toEqual(['/usr/bin/passwd', '/usr/bin/wall']);
  });

  it('name_match does not fire when no path matches (anchored at the start, like re.match)', () => {
    expect(run(filesGate, 'name_match', ctx(), { regex: re('\\.key$') })).toEqual([]);
    expect(run(filesGate, 'name_match', ctx(), { regex: re('bin/passwd') })).toEqual([]);
    expect(run(filesGate, 'name_match', ctx({ files: undefined }), { regex: re('.*') })).toEqual([]);
  });

  it('suid_or_guid_set fires for setuid and setgid files, with the mode in octal', () => {
    const fires = run(filesGate, 'suid_or_guid_set', ctx());
    expect(ids(fires)).toEqual(['/usr/bin/passwd', '/usr/bin/wall']);
    expect(fires[0]!.message).toBe('SUID or SGID found set on file /usr/bin/passwd. Mode: 0o104755');
  });

  it('suid_or_guid_set does not fire for sticky or plain files', () => {
    const files = [
      { path: '/tmp', mode: 0o41777, size: 0, type: 'dir' as const, layer: 'l' },
      { path: '/bin/ls', mode: 0o100755, size: 1, type: 'file' as const, layer: 'l' },
    ];
    expect(run(filesGate, 'suid_or_guid_set', ctx({ files }))).toEqual([]);
  });
});

describe('secret_scans gate', () => {
  const found = { match_type: 'found' };

  it('content_regex_checks (found) fires per match, filtered by name and file regex', () => {
    expect(ids(run(secretScansGate, 'content_regex_checks', ctx(), found))).toHaveLength(3);
    const byName = run(secretScansGate, 'content_regex_checks', ctx(), { ...found, content_regex_name: 'AWS_ACCESS_KEY' });
    expect(ids(byName)).toEqual(['AWS_ACCESS_KEY+/app/.env']);
    expect(byName[0]!.message).toBe('Secret content search analyzer found regexp match in container: file=/app/.env regexp=AWS_ACCESS_KEY');
    expect(ids(run(secretScansGate, 'content_regex_checks', ctx(), { ...found, filename_regex: re('/etc/.*') }))).toEqual(['PRIV_KEY+/etc/ssl/private/server.pem', 'ALPINE_NULL_ROOT+/etc/shadow']);
  });

  it('content_regex_checks (found) does not fire when the filters leave nothing', () => {
    expect(run(secretScansGate, 'content_regex_checks', ctx(), { ...found, content_regex_name: 'API_KEY' })).toEqual([]);
    expect(run(secretScansGate, 'content_regex_checks', ctx(), { ...found, content_regex_name: 'AWS_ACCESS_KEY', filename_regex: re('/etc/') })).toEqual([]);
    expect(run(secretScansGate, 'content_regex_checks', ctx({ contentMatches: [] }), found)).toEqual([]);
  });

  it('content_regex_checks (notfound) fires once when nothing matches the filters', () => {
    const fires = run(secretScansGate, 'content_regex_checks', ctx(), { match_type: 'notfound', content_regex_name: 'DOCKER_AUTH', filename_regex: re('/root/.*') });
    expect(fires).toEqual([
      { triggerId: 'notfound+DOCKER_AUTH+/root/.*', message: 'Secret content search analyzer did not find regexp match in container: filename_regex=/root/.* content_regex_name=DOCKER_AUTH' },
    ]);
    expect(ids(run(secretScansGate, 'content_regex_checks', ctx({ contentMatches: [] }), { match_type: 'notfound' }))).toEqual(['notfound+all+*']);
  });

  it('content_regex_checks (notfound) does not fire when something matches, or when the search did not run', () => {
    expect(run(secretScansGate, 'content_regex_checks', ctx(), { match_type: 'notfound', content_regex_name: 'ALPINE_NULL_ROOT' })).toEqual([]);
    expect(run(secretScansGate, 'content_regex_checks', ctx({ contentMatches: undefined }), { match_type: 'notfound' })).toEqual([]);
  });

  it('declares Anchore\'s params with match_type defaulting to found', () => {
    const params = secretScansGate.triggers[0]!.params;
    expect(params.map((p) => p.name)).toEqual(['content_regex_name', 'filename_regex', 'match_type']);
    expect(params.find((p) => p.name === 'match_type')).toMatchObject({ type: 'enum', values: ['found', 'notfound'], default: 'found' });
    expect(params.find((p) => p.name === 'filename_regex')!.type).toBe('regex');
  });
});

describe('passwd_file gate', () => {
  const names = passwdFileGate.triggers.map((t) => t.name);

  it('has Anchore\'s triggers, denylist_* and the older blacklist_* names', () => {
    for (const n of ['content_not_available', 'denylist_usernames', 'denylist_userids', 'denylist_groupids', 'denylist_shells', 'denylist_full_entry', 'blacklist_usernames', 'blacklist_full_entry']) {
      expect(names).toContain(n);
    }
  });

  it('content_not_available fires without /etc/passwd (or with an empty one), not with one', () => {
    expect(ids(run(passwdFileGate, 'content_not_available', ctx({ passwd: undefined })))).toEqual(['/etc/passwd']);
    expect(ids(run(passwdFileGate, 'content_not_available', ctx({ passwd: '\n' })))).toEqual(['/etc/passwd']);
    expect(run(passwdFileGate, 'content_not_available', ctx())).toEqual([]);
  });

  it('denylist_usernames fires per listed user present; not for absent users', () => {
    const fires = run(passwdFileGate, 'denylist_usernames', ctx(), { user_names: ['ftp', 'games'] });
    expect(fires).toEqual([{ triggerId: 'ftp', message: "Denylisted user 'ftp' found in image's /etc/passwd: pentry=ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin" }]);
    expect(run(passwdFileGate, 'denylist_usernames', ctx(), { user_names: ['games'] })).toEqual([]);
    expect(run(passwdFileGate, 'denylist_usernames', ctx({ passwd: undefined }), { user_names: ['root'] })).toEqual([]);
    expect(run(passwdFileGate, 'blacklist_usernames', ctx(), { user_names: ['root'] })[0]!.message).toMatch(/^Blacklisted user 'root'/);
  });

  it('denylist_userids fires per entry with a listed uid', () => {
    expect(ids(run(passwdFileGate, 'denylist_userids', ctx(), { user_ids: ['0', '14'] }))).toEqual(['0', '14']);
    expect(run(passwdFileGate, 'denylist_userids', ctx(), { user_ids: ['1000'] })).toEqual([]);
  });

  it('denylist_groupids fires per entry with a listed gid', () => {
    expect(ids(run(passwdFileGate, 'denylist_groupids', ctx(), { group_ids: ['50'] }))).toEqual(['50']);
    // 14 is ftp's uid, not a gid
    expect(run(passwdFileGate, 'denylist_groupids', ctx(), { group_ids: ['14'] })).toEqual([]);
  });

  it('denylist_shells fires per entry with a listed shell', () => {
    expect(ids(run(passwdFileGate, 'denylist_shells', ctx(), { shells: ['/sbin/nologin', '/bin/bash'] }))).toEqual(['/bin/bash', '/sbin/nologin']);
    expect(run(passwdFileGate, 'denylist_shells', ctx(), { shells: ['/bin/zsh'] })).toEqual([]);
  });

  it('denylist_full_entry fires for the exact entry only', () => {
    const entry = 'ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin';
    expect(ids(run(passwdFileGate, 'denylist_full_entry', ctx(), { entry }))).toEqual([entry]);
    expect(run(passwdFileGate, 'denylist_full_entry', ctx(), { entry: 'ftp:x:14:50:FTP User:/var/ftp:/bin/sh' })).toEqual([]);
  });
});
