/**
 * Gate `secret_scans` (Anchore Engine): the secret patterns' matches (ctx.contentMatches:
 * the built-in AWS_ACCESS_KEY, AWS_SECRET_KEY, PRIV_KEY, DOCKER_AUTH, API_KEY and the
 * user's named patterns), filtered by pattern name and by a path regex applied at the start
 * of the path (Python re.match, as Anchore).
 *
 * match_type=found fires per (pattern, file): trigger id "<pattern name>+<path>".
 * match_type=notfound fires once when nothing passes the filters: trigger id
 * "notfound+<content_regex_name or all>+<filename_regex or *>". When the scan did not run the
 * content search (ctx.contentMatches undefined) neither fires: absence was not checked.
 */
import type { RE2JS } from 're2js';
import type { Gate } from '../types.js';

export const secretScansGate: Gate = {
  name: 'secret_scans',
  description: 'Checks for secrets and content found in the image using the named content regexes (built-in secret patterns and configured ones).',
  triggers: [
    {
      name: 'content_regex_checks',
      description:
        'Triggers if the secret content search found matches of the named regexes (match_type=found, the default) or found none (match_type=notfound). Matches are filtered by content_regex_name and filename_regex when set.',
      params: [
        { name: 'content_regex_name', type: 'string', description: 'Name of the content regex to check for, instead of all (built-in: AWS_ACCESS_KEY, AWS_SECRET_KEY, PRIV_KEY, DOCKER_AUTH, API_KEY).' },
        { name: 'filename_regex', type: 'regex', description: 'Regexp to filter the matched files by, applied at the start of the path (e.g. /etc/.*).' },
        { name: 'match_type', type: 'enum', values: ['found', 'notfound'], default: 'found', description: 'Trigger if a match is found (default) or not found.' },
      ],
      evaluate(ctx, params) {
        if (!ctx.contentMatches) return [];
        const name = params.content_regex_name as string | undefined;
        const file = params.filename_regex as RE2JS | undefined;
        const matches = ctx.contentMatches.filter((m) => (!name || m.name === name) && (!file || file.matcher(m.path).lookingAt()));
        if (params.match_type === 'notfound') {
          if (matches.length) return [];
          const n = name || 'all';
          const f = file ? file.pattern() : '*';
          return [{ triggerId: `notfound+${n}+${f}`, message: `Secret content search analyzer did not find regexp match in container: filename_regex=${f} content_regex_name=${n}` }];
        }
        return matches.map((m) => ({
          triggerId: `${m.name}+${m.path}`,
          message: `Secret content search analyzer found regexp match in container: file=${m.path} regexp=${m.name}`,
        }));
      },
    },
  ],
};
