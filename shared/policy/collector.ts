/**
 * What the policy gates need from the image's files, collected during the same walk as the
 * catalogers: every regular file's metadata (files gate), which named content patterns each
 * file matched (secret_scans, files/content_regex_match — names only, never contents), and
 * /etc/passwd (passwd_file). Both probes always run together: a file that overwrites a lower
 * layer's match hides it only because the metadata probe records every file.
 */
import type { FileView } from '../catalog/types.js';
import type { PolicyData, ViewCollector } from '../scan.js';
import { contentMatchesFrom, contentPatterns, contentScanProbe } from './content-scan.js';
import { fileMetaFrom, fileMetaProbe } from './file-meta.js';

/** `userPatterns`: "NAME=REGEX" entries on top of the built-in ones (a bad one is a CONFIG error naming it). */
export function policyCollector(userPatterns: readonly string[] = []): ViewCollector {
  const content = contentScanProbe(contentPatterns(userPatterns));
  const meta = fileMetaProbe();
  return {
    name: 'policy-data',
    version: 1,
    needs: { exact: ['/etc/passwd'], probes: [content, meta] },
    collect(view: FileView): PolicyData {
      const passwd = view.get('/etc/passwd');
      return {
        files: fileMetaFrom(view, meta),
        contentMatches: contentMatchesFrom(view, content),
        ...(passwd ? { passwd: passwd.content.toString('utf8') } : {}),
      };
    },
  };
}
