import picomatch from 'picomatch';
import parseSpdx from 'spdx-expression-parse';
import { describe, expect, it } from 'vitest';
import {
  LICENSE_CLASSIFIERS,
  classifierToSpdx,
  licensesOf,
  normalizePythonName,
  parseCoreMetadata,
  pythonCataloger,
} from '../../shared/catalog/python.js';
import type { FileView, ViewFile } from '../../shared/catalog/types.js';
import { pathMatcher } from '../../shared/layers/paths.js';

const LAYER = 'sha256:2222';
const SITE = '/usr/local/lib/python3.11/site-packages';

/** An in-memory view: path → content (or a whole ViewFile for truncated files). */
function viewOf(files: Record<string, string | Partial<ViewFile>>): FileView {
  const all: ViewFile[] = Object.entries(files).map(([path, c]) =>
    typeof c === 'string' ? { path, content: Buffer.from(c), mode: 0o644, layer: LAYER } : { path, content: Buffer.alloc(0), mode: 0o644, layer: LAYER, ...c },
  );
  return {
    get: (path) => all.find((f) => f.path === path),
    glob: (pattern) => all.filter((f) => picomatch(pattern, { dot: true })(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1)),
  };
}

const catalog = (files: Record<string, string | Partial<ViewFile>>) => pythonCataloger.catalog(viewOf(files), {});
const fields = (text: string) => parseCoreMetadata(text).fields;

describe('pythonCataloger', () => {
  it('is a language cataloger declaring one glob', () => {
    expect(pythonCataloger).toMatchObject({ name: 'python', kind: 'language', version: 1 });
    expect(pythonCataloger.needs).toEqual({ globs: ['**/*.{dist-info/METADATA,egg-info/PKG-INFO,egg-info,egg/EGG-INFO/PKG-INFO}'] });
  });

  it.each([
    ['/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA', true],
    ['/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO', true],
    ['/usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info', true],
    ['/usr/local/lib/python3.11/site-packages/foo-1.0-py3.11.egg/EGG-INFO/PKG-INFO', true],
    ['/opt/venv/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA', true],
    ['/x.dist-info/METADATA', true],
    ['/app/.venv/lib/python3.12/site-packages/a.dist-info/METADATA', true],
    ['/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/RECORD', false],
    ['/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/requires.txt', false],
    ['/usr/lib/python3/dist-packages/a.dist-info/sub/METADATA', false],
    ['/usr/lib/python3/dist-packages/a.dist-info/METADATA/x', false],
    ['/usr/lib/python3/dist-packages/a-1.egg', false],
    ['/usr/share/doc/METADATA', false],
    ['/src/project/PKG-INFO', false],
    ['/usr/lib/python3/dist-packages/requests/__init__.py', false],
  ])('the walker keeps %s: %s', (path, kept) => {
    expect(pathMatcher(pythonCataloger.needs)(path)).toBe(kept);
  });

  it('reads a dist-info METADATA into the whole package value', () => {
    const metadata = [
      'Metadata-Version: 2.4',
      'Name: Flask_SQLAlchemy',
      'Version: 3.1.1',
      'License-Expression: MIT',
      'Classifier: License :: OSI Approved :: BSD License',
      '',
      'Name: not-a-header',
    ].join('\n');
    expect(catalog({ [`${SITE}/flask_sqlalchemy-3.1.1.dist-info/METADATA`]: metadata })).toEqual({
      issues: [],
      packages: [
        {
          type: 'pypi',
          name: 'Flask_SQLAlchemy',
          version: '3.1.1',
          purl: 'pkg:pypi/flask-sqlalchemy@3.1.1',
          licenses: ['MIT'],
          layer: LAYER,
          locations: [`${SITE}/flask_sqlalchemy-3.1.1.dist-info/METADATA`],
          metadata: { sitePackages: SITE },
        },
      ],
    });
  });

  it('reads egg-info directories, egg-info files and unzipped eggs, naming the directory they are in', () => {
    const pkgInfo = (name: string) => `Metadata-Version: 1.0\nName: ${name}\nVersion: 1.0\n`;
    const { packages, issues } = catalog({
      '/usr/lib/python3/dist-packages/a-1.0.egg-info/PKG-INFO': pkgInfo('a'),
      '/usr/lib/python3/dist-packages/b-1.0.egg-info': pkgInfo('b'),
      [`${SITE}/c-1.0-py3.11.egg/EGG-INFO/PKG-INFO`]: pkgInfo('c'),
      // files beside the metadata are not read
      '/usr/lib/python3/dist-packages/a-1.0.egg-info/requires.txt': 'Name: x\nVersion: 9\n',
    });
    expect(issues).toEqual([]);
    expect(packages.map((p) => [p.name, p.locations[0], p.metadata?.sitePackages])).toEqual([
      ['a', '/usr/lib/python3/dist-packages/a-1.0.egg-info/PKG-INFO', '/usr/lib/python3/dist-packages'],
      ['b', '/usr/lib/python3/dist-packages/b-1.0.egg-info', '/usr/lib/python3/dist-packages'],
      ['c', `${SITE}/c-1.0-py3.11.egg/EGG-INFO/PKG-INFO`, SITE],
    ]);
  });

  it('reports a file without Name or Version as an issue and goes on', () => {
    const { packages, issues } = catalog({
      [`${SITE}/a-1.dist-info/METADATA`]: 'Metadata-Version: 2.1\nVersion: 1\n',
      [`${SITE}/b-1.dist-info/METADATA`]: 'Metadata-Version: 2.1\nName: b\n',
      [`${SITE}/c-1.dist-info/METADATA`]: '',
      [`${SITE}/d-1.dist-info/METADATA`]: 'Name: d\nVersion: 1\n',
      // the fields after the body are not the header's
      [`${SITE}/e-1.dist-info/METADATA`]: 'Name: e\n\nVersion: 1\n',
      [`${SITE}/f-1.dist-info/METADATA`]: 'Name: f g\nVersion: 1\n',
    });
    expect(packages.map((p) => p.name)).toEqual(['d']);
    expect(issues).toEqual([
      { cataloger: 'python', path: `${SITE}/a-1.dist-info/METADATA`, layer: LAYER, message: "no Name field: not a Python distribution's metadata" },
      { cataloger: 'python', path: `${SITE}/b-1.dist-info/METADATA`, layer: LAYER, message: "no Version field: not a Python distribution's metadata" },
      { cataloger: 'python', path: `${SITE}/c-1.dist-info/METADATA`, layer: LAYER, message: "no Name and Version field: not a Python distribution's metadata" },
      { cataloger: 'python', path: `${SITE}/e-1.dist-info/METADATA`, layer: LAYER, message: "no Version field: not a Python distribution's metadata" },
      { cataloger: 'python', path: `${SITE}/f-1.dist-info/METADATA`, layer: LAYER, message: 'invalid Name "f g": embedded whitespace' },
    ]);
  });

  it('reads what a truncated file kept, saying so only when the header was cut', () => {
    const path = `${SITE}/big-1.dist-info/METADATA`;
    const cutInBody = catalog({ [path]: { content: Buffer.from('Name: big\nVersion: 1\n\nlong descrip'), truncated: true } });
    expect(cutInBody).toMatchObject({ packages: [{ name: 'big', version: '1' }], issues: [] });
    const cutInHeader = catalog({ [path]: { content: Buffer.from('Name: big\nVersion: 1\nLicense: MIT\nClassif'), truncated: true } });
    expect(cutInHeader.packages).toMatchObject([{ name: 'big', version: '1', licenses: ['MIT'] }]);
    expect(cutInHeader.issues).toEqual([{ cataloger: 'python', path, layer: LAYER, message: 'file truncated after 41 bytes, inside its header: the fields after that were not read' }]);
  });
});

describe('parseCoreMetadata', () => {
  it('reads fields case-insensitively, keeping every value of repeated fields, the first one first', () => {
    const f = fields('name: a\nVERSION: 1\nClassifier: x\nClassifier: y\nName: b\n');
    expect(f.get('name')).toEqual(['a', 'b']);
    expect(f.get('version')).toEqual(['1']);
    expect(f.get('classifier')).toEqual(['x', 'y']);
  });

  it('joins continuation lines, dedented, and keeps blank ones written as whitespace', () => {
    // setuptools' rfc822_escape: every line after the first indented by 8 spaces.
    const text = 'Name: a\nLicense: Copyright (c) 2020 A\n        \n        Permission is granted\n          indented\nVersion: 1\n';
    expect(fields(text).get('license')).toEqual(['Copyright (c) 2020 A\n\nPermission is granted\n  indented']);
    expect(fields(text).get('version')).toEqual(['1']);
  });

  it('stops at the first empty line or the first line that is not a field', () => {
    expect(parseCoreMetadata('Name: a\n\nVersion: 1\n')).toEqual({ fields: new Map([['name', ['a']]]), complete: true });
    expect(parseCoreMetadata('Name: a\nThis is the description.\nVersion: 1\n')).toEqual({ fields: new Map([['name', ['a']]]), complete: true });
    expect(parseCoreMetadata('Name: a\nVersion: 1')).toEqual({ fields: new Map([['name', ['a']], ['version', ['1']]]), complete: false });
  });

  it('accepts CRLF, a BOM, empty values and values with colons', () => {
    const f = fields('\uFEFFName: a\r\nVersion: 1\r\nHome-page: https://example.org:8080/x\r\nSummary:\r\n\r\nVersion: 2');
    expect(Object.fromEntries(f)).toEqual({ name: ['a'], version: ['1'], 'home-page': ['https://example.org:8080/x'], summary: [''] });
  });

  it('ignores a continuation line before any field', () => {
    expect(Object.fromEntries(fields('  stray\nName: a\n'))).toEqual({ name: ['a'] });
  });
});

describe('normalizePythonName (PEP 503)', () => {
  it.each([
    ['PyYAML', 'pyyaml'],
    ['charset_normalizer', 'charset-normalizer'],
    ['zope.interface', 'zope-interface'],
    ['Foo__Bar-.baz', 'foo-bar-baz'],
    ['requests', 'requests'],
  ])('%s → %s', (name, normalised) => {
    expect(normalizePythonName(name)).toBe(normalised);
  });
});

describe('licences', () => {
  const lic = (...lines: string[]) => licensesOf(fields(`${lines.join('\n')}\n`));

  it('takes License-Expression over everything else', () => {
    expect(lic('License-Expression: Apache-2.0 OR MIT', 'License: BSD', 'Classifier: License :: OSI Approved :: MIT License')).toEqual(['Apache-2.0 OR MIT']);
  });

  it('takes a License that is SPDX as written over the classifiers', () => {
    // Jinja2 3.1.2 as Debian ships it
    expect(lic('License: BSD-3-Clause', 'Classifier: License :: OSI Approved :: BSD License')).toEqual(['BSD-3-Clause']);
    expect(lic('License: MIT OR Apache-2.0', 'Classifier: License :: OSI Approved :: MIT License')).toEqual(['MIT OR Apache-2.0']);
  });

  it('takes a precise classifier over a License that only a correction makes SPDX', () => {
    // chardet 5.1.0 as Debian ships it: "LGPL" alone would be corrected to LGPL-3.0-or-later
    expect(lic('License: LGPL', 'Classifier: License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)')).toEqual(['LGPL-2.0-or-later']);
    // requests 2.28.1
    expect(lic('License: Apache 2.0', 'Classifier: License :: OSI Approved :: Apache Software License')).toEqual(['Apache-2.0']);
    // no classifier that maps: the correction is all there is
    expect(lic('License: Apache 2.0', 'Classifier: License :: OSI Approved :: BSD License')).toEqual(['Apache-2.0']);
    expect(lic('License: GPLv2+')).toEqual(['GPL-2.0-or-later']);
  });

  it('maps classifiers where the License field is missing, UNKNOWN or a whole licence text', () => {
    expect(lic('Classifier: License :: OSI Approved :: MIT License', 'Classifier: Topic :: Utilities')).toEqual(['MIT']);
    expect(lic('License: UNKNOWN', 'Classifier: License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)')).toEqual(['GPL-2.0-or-later']);
    expect(lic('License: Copyright (c) 2010 Someone', '        ', '        Permission is hereby granted, free of charge', 'Classifier: License :: OSI Approved :: MIT License')).toEqual(['MIT']);
    expect(lic('Classifier: License :: OSI Approved :: MIT License', 'Classifier: License :: OSI Approved :: Apache Software License', 'Classifier: License :: OSI Approved :: MIT License')).toEqual([
      'MIT',
      'Apache-2.0',
    ]);
  });

  it('keeps the declared text where nothing maps, else the classifier names', () => {
    expect(lic('License: Copyright Someone', '        All rights reserved.', 'Classifier: License :: OSI Approved :: BSD License')).toEqual(['Copyright Someone\nAll rights reserved.']);
    expect(lic('Classifier: License :: OSI Approved :: BSD License', 'Classifier: License :: Other/Proprietary License')).toEqual(['BSD License', 'Other/Proprietary License']);
    expect(lic('License: UNKNOWN')).toEqual([]);
    expect(lic('Name: x')).toEqual([]);
  });

  it('maps only classifiers naming one licence, to valid SPDX identifiers', () => {
    expect(classifierToSpdx('License :: OSI Approved :: MIT License')).toBe('MIT');
    expect(classifierToSpdx('License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication')).toBe('CC0-1.0');
    expect(classifierToSpdx('License :: OSI Approved :: BSD License')).toBeUndefined();
    expect(classifierToSpdx('License :: OSI Approved :: GNU General Public License (GPL)')).toBeUndefined();
    expect(classifierToSpdx('License :: OSI Approved')).toBeUndefined();
    expect(classifierToSpdx('Topic :: MIT License')).toBeUndefined();
    for (const [name, spdx] of LICENSE_CLASSIFIERS) {
      expect(() => parseSpdx(spdx), `${name} → ${spdx}`).not.toThrow();
      expect(parseSpdx(spdx)).toEqual({ license: spdx });
    }
  });
});
