/**
 * Gate `files` (Anchore Engine): checks over the image's files — content regex matches, path
 * regexes, setuid/setgid bits. Reads ctx.contentMatches and ctx.files; when the scan did not
 * collect them (undefined) the triggers have nothing to fire on.
 *
 * Trigger ids: content_regex_match "<pattern name>+<path>"; name_match and suid_or_guid_set
 * the file's path. Like Anchore, name_match applies the regex at the start of the path
 * (Python re.match): ".*\.pem", "/etc/.*".
 */
import type { RE2JS } from 're2js';
import type { Gate } from '../types.js';

export const filesGate: Gate = {
  name: 'files',
  description: 'Checks against files in the analyzed image including file content, file names, and filesystem attributes.',
  triggers: [
    {
      name: 'content_regex_match',
      description: 'Triggers for each file where the content search found a match of a named regex. With regex_name, only for files that matched that regex.',
      params: [{ name: 'regex_name', type: 'string', description: 'Name of the content regex to fire for (default: any).' }],
      evaluate(ctx, params) {
        const only = params.regex_name as string | undefined;
        return (ctx.contentMatches ?? [])
          .filter((m) => !only || m.name === only)
          .map((m) => ({
            triggerId: `${m.name}+${m.path}`,
            message: `File content analyzer found regexp match in container: file=${m.path} regexp=${m.name}`,
          }));
      },
    },
    {
      name: 'name_match',
      description: 'Triggers for each file whose full path matches the regex (anchored at the start of the path, as Python re.match).',
      params: [{ name: 'regex', type: 'regex', required: true, description: 'Regex to apply to file paths, e.g. .*\\.pem' }],
      evaluate(ctx, params) {
        const re = params.regex as RE2JS;
        return (ctx.files ?? [])
          .filter((f) => re.matcher(f.path).lookingAt())
          .map((f) => ({ triggerId: f.path, message: `Application of regex matched file found in container: file=${f.path} regexp=${re.pattern()}` }));
      },
    },
    {
      name: 'suid_or_guid_set',
      description: 'Fires for each file found to have the setuid or setgid bit set.',
      params: [],
      evaluate(ctx) {
        return (ctx.files ?? [])
          .filter((f) => (f.mode & 0o6000) !== 0)
          .map((f) => ({ triggerId: f.path, message: `SUID or SGID found set on file ${f.path}. Mode: 0o${f.mode.toString(8)}` }));
      },
    },
  ],
};
