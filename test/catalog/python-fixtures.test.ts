/**
 * The Python metadata Debian bookworm's python3-yaml, -requests, -urllib3, -jinja2 and
 * -setuptools install (shared/fixtures/pkgdb/python/debian-bookworm, real files at their
 * real paths), read through a DirectoryView over that tree as if it were an image root.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { pythonCataloger } from '../../shared/catalog/python.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const ROOT = join(SHARED_FIXTURES, 'pkgdb/python/debian-bookworm');
const SITE = '/usr/lib/python3/dist-packages';

describe('Debian bookworm Python metadata fixtures', () => {
  it('reads every distribution with its exact name, version, licences and package URL', () => {
    const view = new DirectoryView(ROOT, { layer: 'sha256:fixture' });
    const result = pythonCataloger.catalog(view, {});
    const pkg = (name: string, version: string, dir: string, file: string, licenses: string[], purlName = name.toLowerCase()) => ({
      type: 'pypi',
      name,
      version,
      purl: `pkg:pypi/${purlName}@${version}`,
      licenses,
      layer: 'sha256:fixture',
      locations: [`${SITE}/${dir}/${file}`],
      metadata: { sitePackages: SITE },
    });
    expect(result).toEqual({
      issues: [],
      packages: [
        // License: BSD-3-Clause; the "BSD License" classifier is not one licence and is not needed
        pkg('Jinja2', '3.1.2', 'Jinja2-3.1.2.egg-info', 'PKG-INFO', ['BSD-3-Clause']),
        // License: MIT
        pkg('PyYAML', '6.0', 'PyYAML-6.0.dist-info', 'METADATA', ['MIT']),
        // License: Apache 2.0
        pkg('requests', '2.28.1', 'requests-2.28.1.egg-info', 'PKG-INFO', ['Apache-2.0']),
        // no License field: Classifier: License :: OSI Approved :: MIT License
        pkg('setuptools', '66.1.1', 'setuptools-66.1.1.egg-info', 'PKG-INFO', ['MIT']),
        // License: MIT
        pkg('urllib3', '1.26.12', 'urllib3-1.26.12.egg-info', 'PKG-INFO', ['MIT']),
      ],
    });
    expect(view.issues).toEqual([]);
  });
});
