/**
 * The gem cataloger: hand-written specifications in the forms RubyGems has written over the
 * years (each also evaluated by the real Ruby, which must read it the same way), malformed
 * files, and every gem specification Debian's Ruby installed, compared with what Ruby itself
 * loads from them. Needs Debian's `ruby` and `ruby-rack` (apt-get install ruby ruby-rack).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { normalizeLicenses } from '../../shared/catalog/license.js';
import { parseGemspec, rubyCataloger } from '../../shared/catalog/ruby.js';
import type { FileView, ViewFile } from '../../shared/catalog/types.js';
import { pathMatcher } from '../../shared/layers/paths.js';

const LAYER = 'sha256:3333';
const SPECS = '/usr/local/bundle/specifications';

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

function catalog(files: Record<string, string | Partial<ViewFile>>) {
  return rubyCataloger.catalog(viewOf(files), {});
}

/** What Ruby (Gem::Specification.load) reads from each file. */
interface RubySpec {
  path: string;
  name: string;
  version: string;
  platform: string;
  licenses: string[];
}

const RUBY_READER = `
require 'json'
specs = ARGV.map do |f|
  s = Gem::Specification.load(f) or abort("Ruby could not load #{f}")
  { path: f, name: s.name, version: s.version.to_s, platform: s.platform.to_s, licenses: s.licenses }
end
puts JSON.generate(specs)
`;

function rubyLoad(paths: string[]): RubySpec[] {
  return JSON.parse(execFileSync('ruby', ['-e', RUBY_READER, ...paths], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as RubySpec[];
}

function requireRuby(): void {
  try {
    execFileSync('ruby', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('ruby is not installed: run `apt-get install ruby ruby-rack` (as root) for the gem cataloger tests');
  }
}

// --- specifications as RubyGems writes them -------------------------------------------------

/** Gem::Specification#to_ruby of RubyGems 3.x, for a gem with native code built for a platform. */
const NOKOGIRI = `# -*- encoding: utf-8 -*-
# stub: nokogiri 1.15.4 x86_64-linux lib

Gem::Specification.new do |s|
  s.name = "nokogiri".freeze
  s.version = "1.15.4"
  s.platform = "x86_64-linux".freeze

  s.required_rubygems_version = Gem::Requirement.new(">= 3.3.22".freeze) if s.respond_to? :required_rubygems_version=
  s.metadata = { "bug_tracker_uri" => "https://github.com/sparklemotion/nokogiri/issues", "rubygems_mfa_required" => "true" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.authors = ["Mike Dalessio".freeze, "Aaron Patterson".freeze]
  s.bindir = "bin".freeze
  s.date = "2023-08-11"
  s.description = "An HTML, XML, SAX, and Reader parser.\\n".freeze
  s.executables = ["nokogiri".freeze]
  s.files = ["bin/nokogiri".freeze, "lib/nokogiri.rb".freeze]
  s.homepage = "https://nokogiri.org".freeze
  s.licenses = ["MIT".freeze]
  s.required_ruby_version = Gem::Requirement.new([">= 2.7".freeze, "< 3.3.dev".freeze])
  s.rubygems_version = "3.4.10".freeze
  s.summary = "An HTML, XML, SAX, and Reader parser".freeze

  s.installed_by_version = "3.4.10" if s.respond_to? :installed_by_version

  if s.respond_to? :specification_version then
    s.specification_version = 4
  end

  s.add_runtime_dependency(%q<racc>.freeze, ["~> 1.4"])
end
`;

/** RubyGems 1.3 (Ruby 1.8 era): %q{} strings, no .freeze, no licences. */
const RUBYGEMS_1_3 = `# -*- encoding: utf-8 -*-

Gem::Specification.new do |s|
  s.name = %q{rack}
  s.version = "1.1.0"

  s.required_rubygems_version = Gem::Requirement.new(">= 0") if s.respond_to? :required_rubygems_version=
  s.authors = ["Christian Neukirchen"]
  s.date = %q{2010-01-03}
  s.default_executable = %q{rackup}
  s.email = %q{chneukirchen@gmail.com}
  s.homepage = %q{http://rack.rubyforge.org}
  s.require_paths = ["lib"]
  s.rubygems_version = %q{1.3.5}
  s.summary = %q{a modular Ruby webserver interface}

  if s.respond_to? :specification_version then
    current_version = Gem::Specification::CURRENT_SPECIFICATION_VERSION
    s.specification_version = 3
  end
end
`;

/** RubyGems 1.8: plain double-quoted strings, %q<> in dependencies, a licences array. */
const RUBYGEMS_1_8 = `# -*- encoding: utf-8 -*-

Gem::Specification.new do |s|
  s.name = "thor"
  s.version = "0.14.6"

  s.required_rubygems_version = Gem::Requirement.new(">= 1.3.6") if s.respond_to? :required_rubygems_version=
  s.authors = ["Yehuda Katz", "Jos\\u{e9} Valim"]
  s.date = "2010-12-15"
  s.homepage = "http://github.com/wycats/thor"
  s.licenses = ["MIT"]
  s.require_paths = ["lib"]
  s.rubygems_version = "1.8.11"
  s.summary = "A scripting framework that replaces rake, sake and rubigen"

  if s.respond_to? :specification_version then
    s.specification_version = 3

    if Gem::Version.new(Gem::VERSION) >= Gem::Version.new('1.2.0') then
      s.add_development_dependency(%q<bundler>, ["~> 1.0"])
    else
      s.add_dependency(%q<bundler>, ["~> 1.0"])
    end
  end
end
`;

/** A hand-written specification (as some vendored gems install it): other block variable, Gem::Version, %w, Gem::Platform::RUBY. */
const HAND_WRITTEN = `Gem::Specification.new do |spec|
  spec.name          = 'acme-client'
  spec.version       = Gem::Version.new('2.0.11')
  spec.platform      = Gem::Platform::RUBY
  spec.authors       = ['Charles Barbier']
  spec.summary       = 'Client for the ACME protocol.'
  spec.homepage      = 'http://github.com/unixcharles/acme-client'
  spec.license       = 'MIT'
  spec.licenses      = %w[MIT Ruby]   # the last assignment wins, as in Ruby
  spec.required_ruby_version = '>= 2.3.0'
  spec.files         = %w[lib/acme/client.rb]
end
`;

/** Multi-line licence array with comments, a JRuby platform, and licences that need normalising. */
const MULTILINE = `# -*- encoding: utf-8 -*-
# stub: jruby-openssl 0.14.2 java lib

Gem::Specification.new do |s|
  s.name = "jruby-openssl".freeze
  s.version = "0.14.2"
  s.platform = "java".freeze
  s.licenses = [
    "EPL-1.0".freeze, # Eclipse
    "GPL-2.0".freeze,
    'Apache 2.0',
  ]
  s.homepage = "https://github.com/jruby/jruby-openssl".freeze
end
`;

/** A default gem as Ruby 3.1 installs it: the stub line holds the extension paths NUL-separated. */
const DEFAULT_JSON = `# -*- encoding: utf-8 -*-
# stub: json 2.6.1 ruby lib
# stub: ext/json/ext/generator/extconf.rb\0ext/json/ext/parser/extconf.rb\0ext/json/extconf.rb

Gem::Specification.new do |s|
  s.name = "json".freeze
  s.version = "2.6.1"

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.require_paths = ["lib".freeze]
  s.authors = ["Florian Frank".freeze]
  s.homepage = "http://flori.github.com/json".freeze
  s.licenses = ["Ruby".freeze]
  s.required_ruby_version = Gem::Requirement.new(">= 2.3".freeze)
  s.rubygems_version = "3.3.26".freeze
  s.summary = "JSON Implementation for Ruby".freeze
end
`;

const FORMS: Array<{ form: string; file: string; text: string; expected: { name: string; version: string; platform?: string; licenses?: string[] } }> = [
  { form: 'RubyGems 3 to_ruby, platform gem', file: 'nokogiri-1.15.4-x86_64-linux.gemspec', text: NOKOGIRI, expected: { name: 'nokogiri', version: '1.15.4', platform: 'x86_64-linux', licenses: ['MIT'] } },
  { form: 'RubyGems 1.3 %q{}', file: 'rack-1.1.0.gemspec', text: RUBYGEMS_1_3, expected: { name: 'rack', version: '1.1.0' } },
  { form: 'RubyGems 1.8', file: 'thor-0.14.6.gemspec', text: RUBYGEMS_1_8, expected: { name: 'thor', version: '0.14.6', licenses: ['MIT'] } },
  { form: 'hand-written', file: 'acme-client-2.0.11.gemspec', text: HAND_WRITTEN, expected: { name: 'acme-client', version: '2.0.11', licenses: ['MIT', 'Ruby'] } },
  {
    form: 'multi-line licences, java platform',
    file: 'jruby-openssl-0.14.2-java.gemspec',
    text: MULTILINE,
    expected: { name: 'jruby-openssl', version: '0.14.2', platform: 'java', licenses: ['EPL-1.0', 'GPL-2.0', 'Apache 2.0'] },
  },
  { form: 'default gem', file: 'json-2.6.1.gemspec', text: DEFAULT_JSON, expected: { name: 'json', version: '2.6.1', licenses: ['Ruby'] } },
];

describe('rubyCataloger', () => {
  it('declares installed and default specifications, matched cheaply by path', () => {
    expect(rubyCataloger).toMatchObject({ name: 'ruby', kind: 'language', version: 1 });
    expect(rubyCataloger.needs).toEqual({ globs: ['**/specifications/*.gemspec', '**/specifications/default/*.gemspec'] });
    const needed = pathMatcher(rubyCataloger.needs);
    for (const p of [
      '/usr/lib/ruby/gems/3.1.0/specifications/rack-2.2.22.gemspec',
      '/usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec',
      '/usr/local/bundle/specifications/nokogiri-1.15.4-x86_64-linux.gemspec',
      '/app/vendor/bundle/ruby/3.2.0/specifications/puma-6.4.0.gemspec',
      '/usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec',
    ]) {
      expect(needed(p), p).toBe(true);
    }
    for (const p of [
      '/app/rack.gemspec',
      '/usr/lib/ruby/gems/3.1.0/gems/rack-2.2.22/rack.gemspec',
      '/usr/lib/ruby/gems/3.1.0/specifications/rack-2.2.22.gemspec.bak',
      '/usr/lib/ruby/gems/3.1.0/specifications/default/x/y.gemspec',
      '/usr/lib/ruby/gems/3.1.0/cache/rack-2.2.22.gem',
    ]) {
      expect(needed(p), p).toBe(false);
    }
  });

  it('builds the whole package value of an installed platform gem', () => {
    const path = `${SPECS}/nokogiri-1.15.4-x86_64-linux.gemspec`;
    expect(catalog({ [path]: NOKOGIRI })).toEqual({
      issues: [],
      packages: [
        {
          type: 'gem',
          name: 'nokogiri',
          version: '1.15.4',
          licenses: ['MIT'],
          purl: 'pkg:gem/nokogiri@1.15.4?platform=x86_64-linux',
          layer: LAYER,
          locations: [path],
          metadata: { platform: 'x86_64-linux', homepage: 'https://nokogiri.org' },
        },
      ],
    });
  });

  it('marks default gems and leaves the ruby platform out of the package URL', () => {
    const path = '/usr/local/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec';
    expect(catalog({ [path]: DEFAULT_JSON }).packages).toEqual([
      {
        type: 'gem',
        name: 'json',
        version: '2.6.1',
        licenses: ['Ruby'],
        purl: 'pkg:gem/json@2.6.1',
        layer: LAYER,
        locations: [path],
        metadata: { defaultGem: 'true', homepage: 'http://flori.github.com/json' },
      },
    ]);
  });

  it.each(FORMS)('reads the $form form', ({ text, expected }) => {
    const spec = parseGemspec(text);
    expect(spec.problems).toEqual([]);
    expect({ name: spec.name, version: spec.version, platform: spec.platform, licenses: spec.licenses }).toEqual({
      name: expected.name,
      version: expected.version,
      platform: expected.platform,
      licenses: expected.licenses,
    });
  });

  it('normalises licences to SPDX where they normalise', () => {
    const { packages } = catalog({ [`${SPECS}/jruby-openssl-0.14.2-java.gemspec`]: MULTILINE });
    expect(packages.map((p) => [p.purl, p.licenses])).toEqual([['pkg:gem/jruby-openssl@0.14.2?platform=java', ['EPL-1.0', 'GPL-2.0', 'Apache-2.0']]]);
  });

  it('decodes Ruby string escapes and quoting forms', () => {
    const spec = parseGemspec(
      [
        'Gem::Specification.new do |s|',
        '  s.name = %q(a(b)c)',
        '  s.version = %Q{1.0.\\x32}',
        '  s.homepage = "https://example.org/caf\\u00E9\\t\\#{x}".freeze',
        "  s.licenses = ['a\\'b\\\\c', \"\\u{1F600 41}\", %q|x\\|y|]",
        'end',
      ].join('\n'),
    );
    expect(spec).toEqual({ name: 'a(b)c', version: '1.0.2', homepage: 'https://example.org/caf\u00e9\t#{x}', licenses: ["a'b\\c", '\u{1F600}A', 'x|y'], problems: [] });
    expect(parseGemspec('Gem::Specification.new do |s|\n  s.licenses = %w[MIT\n    Ruby]\nend\n').licenses).toEqual(['MIT', 'Ruby']);
    // 'a''b' is two adjacent literals in Ruby, not one: not read.
    expect(parseGemspec("Gem::Specification.new do |s|\n  s.licenses = ['a''b']\nend\n").problems).toEqual(['licenses is not a literal string or array of strings']);
  });

  it('takes the last assignment, and license = and licenses = as one list', () => {
    const spec = parseGemspec('Gem::Specification.new do |s|\n  s.name = "a"\n  s.version = "1"\n  s.licenses = ["MIT", "Ruby"]\n  s.license = "BSD-2-Clause"\n  s.version = "2.0"\nend\n');
    expect(spec).toEqual({ name: 'a', version: '2.0', licenses: ['BSD-2-Clause'], problems: [] });
  });

  it('ignores assignments to other objects and before the block', () => {
    const spec = parseGemspec('x.version = "9"\nGem::Specification.new do |s|\n  other.name = "b"\n  s.name = "a"\n  s.version = "1"\nend\n');
    expect(spec).toEqual({ name: 'a', version: '1', problems: [] });
  });

  it('falls back to the stub line for a name, version or platform that is not a literal', () => {
    const text = '# stub: puma 6.4.0 java lib\nGem::Specification.new do |s|\n  s.name = NAME\n  s.version = Puma::VERSION\n  s.platform = Gem::Platform.local\nend\n';
    expect(parseGemspec(text)).toEqual({ name: 'puma', version: '6.4.0', platform: 'java', problems: [] });
  });

  it('reads a file with only the stub line, and says so', () => {
    const path = `${SPECS}/puma-6.4.0-java.gemspec`;
    const { packages, issues } = catalog({ [path]: '# -*- encoding: utf-8 -*-\n# stub: puma 6.4.0 java lib\n' });
    expect(packages.map((p) => p.purl)).toEqual(['pkg:gem/puma@6.4.0?platform=java']);
    expect(issues).toEqual([{ cataloger: 'ruby', path, layer: LAYER, message: 'gem "puma": no "Gem::Specification.new do |s|" block: read from the "# stub:" line only' }]);
  });

  it('does not evaluate expressions: interpolation, concatenation, method calls', () => {
    for (const value of ['"1.#{MINOR}"', '"1.0" + ".1"', 'VERSION', '"1.0".succ', '`git describe`', '"1.0" "2"']) {
      const spec = parseGemspec(`Gem::Specification.new do |s|\n  s.name = "a"\n  s.version = ${value}\nend\n`);
      expect(spec.version, value).toBeUndefined();
      expect(spec.problems, value).toEqual(['version is not a literal string or Gem::Version']);
    }
  });

  it('accepts trailing comments, semicolons and modifiers after a literal', () => {
    for (const tail of [' # the version', '; s.name = "a"', ' if s.respond_to? :version=', '\r']) {
      expect(parseGemspec(`Gem::Specification.new do |s|\n  s.version = "1.2"${tail}\nend\n`).version, tail).toBe('1.2');
    }
  });

  it('reports malformed specifications with their path and layer and reads the others', () => {
    const good = `${SPECS}/json-2.6.1.gemspec`;
    const { packages, issues } = catalog({
      [good]: DEFAULT_JSON,
      [`${SPECS}/empty-1.0.gemspec`]: '',
      [`${SPECS}/junk-1.0.gemspec`]: '\x89PNG\r\n\x1a\n binary',
      [`${SPECS}/noversion-1.0.gemspec`]: 'Gem::Specification.new do |s|\n  s.name = "noversion"\nend\n',
      [`${SPECS}/badversion-1.0.gemspec`]: 'Gem::Specification.new do |s|\n  s.name = "badversion"\n  s.version = "1.0 beta"\nend\n',
      [`${SPECS}/exprversion-1.0.gemspec`]: 'Gem::Specification.new do |s|\n  s.name = "exprversion"\n  s.version = Foo::VERSION\nend\n',
      [`${SPECS}/noname-1.0.gemspec`]: 'Gem::Specification.new do |s|\n  s.version = "1.0"\nend\n',
      [`${SPECS}/badname-1.0.gemspec`]: 'Gem::Specification.new do |s|\n  s.name = "bad name"\n  s.version = "1.0"\nend\n',
    });
    expect(packages.map((p) => p.locations[0])).toEqual([good]);
    const notGemspec = 'not a gem specification: no "Gem::Specification.new do |s|" block and no "# stub:" line';
    expect(issues).toEqual([
      { cataloger: 'ruby', path: `${SPECS}/badname-1.0.gemspec`, layer: LAYER, message: 'invalid gem name "bad name"' },
      { cataloger: 'ruby', path: `${SPECS}/badversion-1.0.gemspec`, layer: LAYER, message: 'gem "badversion": invalid version "1.0 beta"' },
      { cataloger: 'ruby', path: `${SPECS}/empty-1.0.gemspec`, layer: LAYER, message: `no gem name; ${notGemspec}` },
      { cataloger: 'ruby', path: `${SPECS}/exprversion-1.0.gemspec`, layer: LAYER, message: 'gem "exprversion": no version; version is not a literal string or Gem::Version' },
      { cataloger: 'ruby', path: `${SPECS}/junk-1.0.gemspec`, layer: LAYER, message: `no gem name; ${notGemspec}` },
      { cataloger: 'ruby', path: `${SPECS}/noname-1.0.gemspec`, layer: LAYER, message: 'no gem name' },
      { cataloger: 'ruby', path: `${SPECS}/noversion-1.0.gemspec`, layer: LAYER, message: 'gem "noversion": no version' },
    ]);
  });

  it('reports a gem whose licences are not literal without licences, with an issue', () => {
    const path = `${SPECS}/a-1.0.gemspec`;
    const { packages, issues } = catalog({ [path]: 'Gem::Specification.new do |s|\n  s.name = "a"\n  s.version = "1.0"\n  s.licenses = LICENSES\nend\n' });
    expect(packages).toEqual([{ type: 'gem', name: 'a', version: '1.0', purl: 'pkg:gem/a@1.0', layer: LAYER, locations: [path] }]);
    expect(issues).toEqual([{ cataloger: 'ruby', path, layer: LAYER, message: 'gem "a": licenses is not a literal string or array of strings' }]);
  });

  it('reads what it can of a truncated file and says so', () => {
    const path = `${SPECS}/nokogiri-1.15.4-x86_64-linux.gemspec`;
    const content = Buffer.from(NOKOGIRI.slice(0, 300));
    const { packages, issues } = catalog({ [path]: { content, truncated: true } });
    expect(packages.map((p) => p.purl)).toEqual(['pkg:gem/nokogiri@1.15.4?platform=x86_64-linux']);
    expect(issues).toEqual([{ cataloger: 'ruby', path, layer: LAYER, message: 'file truncated after 300 bytes: read as far as it goes' }]);
  });

  it('reads each file once, in installed then default order', () => {
    const a = `${SPECS}/rack-1.1.0.gemspec`;
    const b = `${SPECS}/default/json-2.6.1.gemspec`;
    expect(catalog({ [b]: DEFAULT_JSON, [a]: RUBYGEMS_1_3 }).packages.map((p) => p.locations[0])).toEqual([a, b]);
  });
});

describe('rubyCataloger against Ruby', () => {
  let scratch: string;
  beforeAll(() => {
    requireRuby();
    scratch = mkdtempSync(join(tmpdir(), 'drydock-ruby-'));
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('reads every hand-written form the way Ruby evaluates it', () => {
    const dir = join(scratch, 'specifications');
    mkdirSync(dir, { recursive: true });
    for (const f of FORMS) writeFileSync(join(dir, f.file), f.text);
    const ruby = rubyLoad(FORMS.map((f) => join(dir, f.file)));
    for (const [i, f] of FORMS.entries()) {
      const spec = parseGemspec(f.text);
      const r = ruby[i] as RubySpec;
      expect({ name: spec.name, version: spec.version, platform: spec.platform ?? 'ruby', licenses: spec.licenses ?? [] }, f.form).toEqual({
        name: r.name,
        version: r.version,
        platform: r.platform,
        licenses: r.licenses,
      });
    }
  });

  it('inventories every gem specification Debian installed, as Ruby loads it', () => {
    // Every GEM_PATH directory Ruby searches, and every specification in it.
    const listing = JSON.parse(
      execFileSync(
        'ruby',
        ['-e', "require 'json'; dirs = Gem.path.select { |d| File.directory?(File.join(d, 'specifications')) }; puts JSON.generate(dirs: dirs, known: Gem::Specification.map(&:full_name))"],
        { encoding: 'utf8' },
      ),
    ) as { dirs: string[]; known: string[] };
    expect(listing.dirs).toEqual(expect.arrayContaining(['/usr/share/rubygems-integration/all']));

    const ours = listing.dirs.flatMap((dir) => {
      const view = new DirectoryView(dir);
      const result = rubyCataloger.catalog(view, {});
      expect(result.issues, dir).toEqual([]);
      expect(view.issues, dir).toEqual([]);
      return result.packages.map((p) => ({ ...p, path: join(dir, p.locations[0] as string) }));
    });
    const ruby = rubyLoad(ours.map((p) => p.path));
    expect(ours.length).toBeGreaterThan(80);
    expect(
      ours.map((p) => ({ path: p.path, name: p.name, version: p.version, platform: p.metadata?.platform ?? 'ruby', licenses: p.licenses ?? [] })),
    ).toEqual(ruby.map((r) => ({ ...r, licenses: normalizeLicenses(r.licenses) })));

    // Every gem Ruby knows is in the inventory (some, like rake, are installed twice).
    const fullNames = new Set(ours.map((p) => (p.metadata?.platform ? `${p.name}-${p.version}-${p.metadata.platform}` : `${p.name}-${p.version}`)));
    expect(listing.known.filter((n) => !fullNames.has(n))).toEqual([]);
    // Ruby's own default gems are marked.
    expect(ours.find((p) => p.name === 'bundler' && p.path.includes('/specifications/default/'))?.metadata?.defaultGem).toBe('true');
  });

  it('finds ruby-rack at the upstream version Debian packaged', () => {
    const debVersion = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'ruby-rack'], { encoding: 'utf8' });
    const upstream = debVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
    const dir = '/usr/share/rubygems-integration/all';
    const rack = rubyCataloger.catalog(new DirectoryView(dir), {}).packages.find((p) => p.name === 'rack');
    expect(rack).toMatchObject({
      type: 'gem',
      version: upstream,
      purl: `pkg:gem/rack@${upstream}`,
      licenses: ['MIT'],
      locations: [`/specifications/rack-${upstream}.gemspec`],
    });
  });
});
