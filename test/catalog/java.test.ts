/**
 * The Java cataloger on real archives: every jar, war and ear below is built at test time
 * by the JDK's own `jar` tool (run through java-fixtures/JarBatch.java, one JVM for all),
 * laid out in a directory tree that a DirectoryView reads as an image.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { runCatalogers } from '../../shared/catalog/index.js';
import { probeReads } from '../../shared/catalog/types.js';
import { createJavaCataloger, javaCataloger, parseManifest, parseProperties, splitFileName } from '../../shared/catalog/java.js';
import type { CatalogResult, Cataloger, Package } from '../../shared/catalog/types.js';
import { openSource } from '../../shared/image/open.js';
import { scanImage } from '../../shared/scan.js';
import { buildImage } from '../support/image-builder.js';

const JAR_BATCH = fileURLToPath(new URL('./java-fixtures/JarBatch.java', import.meta.url));
const LAYER = 'sha256:1111';
const MANIFEST = 'META-INF/MANIFEST.MF';

// ---------------------------------------------------------------------------------------
// Building archives

/** Files of an archive by path inside it: text, bytes, or another archive. */
interface Tree {
  [path: string]: string | Buffer | Archive;
}
interface Archive {
  files: Tree;
  /** manifest text handed to `jar --manifest` (jar rewrites it, wrapping lines at 72 bytes) */
  manifest?: string;
  /** `jar --no-manifest` */
  noManifest?: boolean;
  /** `jar --no-compress`: every entry stored, as Spring Boot requires for BOOT-INF/lib */
  store?: boolean;
}

const archive = (files: Tree, options: Omit<Archive, 'files'> = {}): Archive => ({ files, ...options });

const pom = (groupId: string, artifactId: string, version: string): Tree => ({
  [`META-INF/maven/${groupId}/${artifactId}/pom.properties`]: `#Created by Apache Maven 3.9.5\ngroupId=${groupId}\nartifactId=${artifactId}\nversion=${version}\n`,
});

/** Collects `jar` invocations (nested archives first) and runs them all in one JVM. */
class JarBatch {
  private readonly commands: string[] = [];
  private staged = 0;

  constructor(private readonly work: string) {}

  build(out: string, spec: Archive): void {
    const stage = join(this.work, 'stage', String(this.staged++));
    mkdirSync(stage, { recursive: true });
    for (const [path, content] of Object.entries(spec.files)) {
      const target = join(stage, path);
      mkdirSync(dirname(target), { recursive: true });
      if (typeof content === 'string' || Buffer.isBuffer(content)) writeFileSync(target, content);
      else this.build(target, content);
    }
    const args = ['--create', '--file', out];
    if (spec.manifest !== undefined) {
      const manifest = `${stage}.mf`;
      writeFileSync(manifest, spec.manifest);
      args.push('--manifest', manifest);
    }
    if (spec.noManifest) args.push('--no-manifest');
    if (spec.store) args.push('--no-compress');
    args.push('-C', stage, '.');
    mkdirSync(dirname(out), { recursive: true });
    this.commands.push(args.join('\t'));
  }

  run(): void {
    const list = join(this.work, 'jar-commands.tsv');
    writeFileSync(list, `${this.commands.join('\n')}\n`);
    execFileSync('java', [JAR_BATCH, list], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

/** Set the uncompressed size the central directory declares for one entry (a lying zip). */
function patchDeclaredSize(file: string, entryName: string, size: number): void {
  const zip = readFileSync(file);
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 5, 6]));
  let p = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < zip.readUInt16LE(eocd + 10); i++) {
    const nameLen = zip.readUInt16LE(p + 28);
    if (zip.toString('utf8', p + 46, p + 46 + nameLen) === entryName) {
      zip.writeUInt32LE(size, p + 24);
      writeFileSync(file, zip);
      return;
    }
    p += 46 + nameLen + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
  }
  throw new Error(`${entryName} is not in ${file}`);
}

// ---------------------------------------------------------------------------------------
// The images

let work: string;
/** image name → its root directory */
const roots: Record<string, string> = {};
const root = (image: string): string => (roots[image] ??= join(work, 'images', image));
const at = (image: string, path: string): string => join(root(image), path);

const PERF_JARS = 200;
/** where the central directory of the plain jar starts */
let cdOffset = 0;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'drydock-java-'));
  const batch = new JarBatch(work);

  // A plain library jar as Maven builds it.
  batch.build(
    at('plain', '/app/lib/commons-text-1.10.0.jar'),
    archive(
      { ...pom('org.apache.commons', 'commons-text', '1.10.0'), 'org/apache/commons/text/StringSubstitutor.class': 'not really a class' },
      {
        manifest: [
          'Manifest-Version: 1.0',
          'Implementation-Title: Apache Commons Text',
          'Implementation-Version: 1.10.0',
          'Bundle-SymbolicName: org.apache.commons.commons-text',
          'Bundle-Version: 1.10.0',
          'Bundle-License: Apache-2.0;link="https://www.apache.org/licenses/LICENSE-2.0.txt"',
          '',
        ].join('\n'),
      },
    ),
  );

  // Manifests only (Gradle- and OSGi-built jars).
  batch.build(
    at('manifest', '/app/lib/core.jar'),
    archive(
      { 'org/springframework/core/SpringVersion.class': 'x' },
      {
        manifest: [
          'Manifest-Version: 1.0',
          'Implementation-Title: spring-core',
          'Implementation-Version: 6.1.2',
          // longer than 72 bytes: jar writes it on several continuation lines
          'Implementation-Vendor-Id: org.springframework.a.group.id.long.enough.to.be.wrapped.by.the.jar.tool.at.seventy.two.bytes',
          'Bundle-License: https://www.apache.org/licenses/LICENSE-2.0.txt',
          '',
        ].join('\n'),
      },
    ),
  );
  batch.build(
    at('manifest', '/app/lib/bundle.jar'),
    archive(
      { 'org/example/bundle/Activator.class': 'x' },
      {
        manifest: [
          'Manifest-Version: 1.0',
          'Implementation-Title: Example Bundle',
          'Bundle-SymbolicName: org.example.bundle;singleton:=true',
          'Bundle-Version: 2.3.4.v20240101',
          'Specification-Title: Example API',
          'Specification-Version: 2.3',
          '',
        ].join('\n'),
      },
    ),
  );

  // Nothing but the file name.
  batch.build(at('filename', '/usr/share/java/commons-collections-3.2.2.jar'), archive({ 'org/apache/commons/collections/Bag.class': 'x' }, { noManifest: true }));
  batch.build(at('filename', '/usr/share/java/log4j-1.2-api-2.17.1.jar'), archive({ 'org/apache/log4j/Logger.class': 'x' }));
  batch.build(at('filename', '/usr/share/java/UPPER-CASE-1.0.JAR'), archive({ 'a/B.class': 'x' }));
  batch.build(at('filename', '/usr/share/java/no-version.jar'), archive({ 'a/B.class': 'x' }));

  // A war with WEB-INF/lib jars, and a Jenkins plugin (.hpi is a war).
  batch.build(
    at('war', '/srv/shop.war'),
    archive({
      ...pom('com.example', 'shop', '3.4.0'),
      'WEB-INF/web.xml': '<web-app/>',
      'WEB-INF/classes/com/example/Shop.class': 'x',
      'WEB-INF/lib/slf4j-api-2.0.9.jar': archive(pom('org.slf4j', 'slf4j-api', '2.0.9')),
      'WEB-INF/lib/gson-2.10.1.jar': archive(pom('com.google.code.gson', 'gson', '2.10.1')),
      'WEB-INF/lib/broken-1.0.jar': randomBytes(300),
    }),
  );
  batch.build(at('war', '/var/jenkins_home/plugins/git.hpi'), archive({ ...pom('org.jenkins-ci.plugins', 'git', '5.2.1'), 'WEB-INF/lib/git.jar': archive({ 'x/Y.class': 'x' }) }));

  // An ear holding a war holding jars, and jars in the ear's lib/.
  batch.build(
    at('ear', '/opt/app.ear'),
    archive({
      'META-INF/application.xml': '<application/>',
      'lib/commons-io-2.15.1.jar': archive(pom('commons-io', 'commons-io', '2.15.1')),
      'web.war': archive(
        {
          'WEB-INF/lib/jackson-core-2.16.0.jar': archive(pom('com.fasterxml.jackson.core', 'jackson-core', '2.16.0')),
          'WEB-INF/lib/legacy-util-3.1.jar': archive({ 'legacy/Util.class': 'x' }),
        },
        { manifest: 'Manifest-Version: 1.0\nImplementation-Title: web\nImplementation-Version: 1.0.0\nImplementation-Vendor-Id: com.example\n' },
      ),
    }),
  );

  // A Spring Boot fat jar: everything stored; a shaded jar inside; one library twice.
  const jackson = archive(pom('com.fasterxml.jackson.core', 'jackson-databind', '2.16.0'));
  batch.build(
    at('boot', '/app/app.jar'),
    archive(
      {
        ...pom('com.example', 'demo', '0.0.1-SNAPSHOT'),
        'org/springframework/boot/loader/launch/JarLauncher.class': 'x',
        'BOOT-INF/classes/application.properties': 'server.port=8080\n',
        'BOOT-INF/lib/spring-core-6.1.2.jar': archive({ 'org/springframework/core/SpringVersion.class': 'x' }, { manifest: 'Manifest-Version: 1.0\nImplementation-Title: spring-core\nImplementation-Version: 6.1.2\n' }),
        'BOOT-INF/lib/jackson-databind-2.16.0.jar': jackson,
        'BOOT-INF/lib/copy/jackson-databind-2.16.0.jar': jackson,
        'BOOT-INF/lib/everything-all-1.0.jar': archive({
          ...pom('org.example', 'everything', '1.0'),
          ...pom('com.google.guava', 'guava', '32.1.2-jre'),
          ...pom('org.ow2.asm', 'asm', '9.5'),
        }),
      },
      { store: true, manifest: 'Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.launch.JarLauncher\nStart-Class: com.example.Demo\n' },
    ),
  );

  // Nested six deep: the archives at depth 5 are not opened.
  let deep: Archive = archive(pom('org.example', 'depth5', '1.0'));
  for (let depth = 4; depth >= 1; depth--) deep = archive({ ...pom('org.example', `depth${depth}`, '1.0'), [`lib/depth${depth + 1}.jar`]: deep });
  batch.build(at('deep', '/app/depth0.jar'), archive({ ...pom('org.example', 'depth0', '1.0'), 'lib/depth1.jar': deep }));

  // Zip bombs: a nested entry of 8 MiB of zeros whose declared size lies.
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  batch.build(at('bomb', '/app/small-lie.jar'), archive({ ...pom('org.example', 'small-lie', '1.0'), 'lib/zeros.jar': zeros }));
  batch.build(at('bomb', '/app/huge-lie.jar'), archive({ ...pom('org.example', 'huge-lie', '1.0'), 'lib/zeros.jar': zeros }));

  // 200 nested jars with 20 incompressible "classes" each.
  const lib: Tree = {};
  for (let i = 0; i < PERF_JARS; i++) {
    const files: Tree = pom('org.example.perf', `lib${i}`, `1.0.${i}`);
    for (let c = 0; c < 20; c++) files[`org/example/perf/lib${i}/C${c}.class`] = randomBytes(2048);
    lib[`WEB-INF/lib/lib${i}-1.0.${i}.jar`] = archive(files);
  }
  batch.build(at('perf', '/app/big.war'), archive(lib));

  // Zip64: more entries than a plain zip can count (70,000 empty classes), a jar inside.
  const many: Tree = { 'lib/inner-2.0.jar': archive(pom('org.example', 'inner', '2.0')) };
  for (let d = 0; d < 70; d++) for (let c = 0; c < 1000; c++) many[`p${d}/C${c}.class`] = '';
  batch.build(at('zip64', '/app/many-1.0.jar'), archive(many));

  // More trouble in one archive than is listed one by one.
  const broken: Tree = {};
  for (let i = 0; i < 25; i++) broken[`WEB-INF/lib/broken${i}.jar`] = `not a zip ${i}`;
  batch.build(at('noisy', '/app/noisy.war'), archive(broken));

  batch.run();

  patchDeclaredSize(at('bomb', '/app/small-lie.jar'), 'lib/zeros.jar', 1000);
  patchDeclaredSize(at('bomb', '/app/huge-lie.jar'), 'lib/zeros.jar', 0xfffffff0);

  // Not zips, or not whole ones.
  const plain = readFileSync(at('plain', '/app/lib/commons-text-1.10.0.jar'));
  mkdirSync(at('corrupt', '/app'), { recursive: true });
  writeFileSync(at('corrupt', '/app/random.jar'), randomBytes(4096));
  writeFileSync(at('corrupt', '/app/truncated-1.0.jar'), plain.subarray(0, Math.floor(plain.length / 2)));
  writeFileSync(at('corrupt', '/app/empty.jar'), '');
  // The central directory says the data of its entries is further than the file goes.
  const bad = Buffer.from(plain);
  const eocd = bad.lastIndexOf(Buffer.from([0x50, 0x4b, 5, 6]));
  cdOffset = bad.readUInt32LE(eocd + 16);
  bad.writeUInt32LE(cdOffset + 1, eocd + 16);
  writeFileSync(at('corrupt', '/app/bad-offset.jar'), bad);

  // A "fully executable" Spring Boot jar: a launch script before the zip shifts every offset.
  mkdirSync(at('exec', '/app'), { recursive: true });
  writeFileSync(at('exec', '/app/exec.jar'), Buffer.concat([Buffer.from('#!/bin/bash\n# launch script\nexec java -jar "$0" "$@"\nexit 0\n'), readFileSync(at('boot', '/app/app.jar'))]));
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// Reading them

function scan(image: string, cataloger: Cataloger = javaCataloger): CatalogResult {
  const view = new DirectoryView(root(image), { layer: LAYER });
  const result = cataloger.catalog(view, {});
  expect(view.issues).toEqual([]);
  return result;
}

/** One line per package: purl, evidence, locations; sorted. */
function brief(packages: Package[]): string[] {
  return packages.map((p) => `${p.purl} ${p.metadata?.evidence} ${p.locations.join(' ')}`).sort();
}

function issues(result: CatalogResult): string[] {
  return result.issues.map((i) => `${i.path}: ${i.message}`).sort();
}

describe('javaCataloger', () => {
  it('reads archives of every extension, in any case, anywhere, by a content probe (never kept whole)', () => {
    expect(javaCataloger).toMatchObject({ name: 'java', kind: 'language', version: 2 });
    const probe = javaCataloger.needs.probes![0]!;
    expect(javaCataloger.needs.globs ?? []).toEqual([]);
    for (const path of ['/app/x.jar', '/a/b/C.JAR', '/srv/app.war', '/opt/x.Ear', '/var/jenkins_home/plugins/git.jpi', '/p/git.hpi', '/.hidden/x.jar']) expect(probeReads(probe, path, 0o644, 1000), path).toBe(true);
    for (const path of ['/app/x.jar.sha1', '/app/jar', '/app/x.zip', '/app/xjar']) expect(probeReads(probe, path, 0o644, 1000), path).toBe(false);
  });

  it('reads pom.properties of a plain jar: the whole package', () => {
    expect(scan('plain')).toEqual({
      issues: [],
      packages: [
        {
          type: 'maven',
          name: 'commons-text',
          version: '1.10.0',
          purl: 'pkg:maven/org.apache.commons/commons-text@1.10.0',
          licenses: ['Apache-2.0'],
          layer: LAYER,
          locations: ['/app/lib/commons-text-1.10.0.jar'],
          metadata: {
            evidence: 'pom.properties',
            evidencePath: 'META-INF/maven/org.apache.commons/commons-text/pom.properties',
            groupId: 'org.apache.commons',
            artifactId: 'commons-text',
          },
        },
      ],
    });
  });

  it('falls back to MANIFEST.MF, continuation lines joined', () => {
    const { [MANIFEST]: manifest } = unzipSync(readFileSync(at('manifest', '/app/lib/core.jar')), { filter: (f) => f.name === MANIFEST });
    expect(Buffer.from(manifest as Uint8Array).toString()).toMatch(/^Implementation-Vendor-Id: org\.springframework[^\r\n]*\r\n [^\r\n]+$/m); // wrapped by jar
    expect(scan('manifest')).toEqual({
      issues: [],
      packages: [
        {
          type: 'maven',
          name: 'org.example.bundle',
          version: '2.3.4.v20240101',
          purl: 'pkg:maven/org.example.bundle/org.example.bundle@2.3.4.v20240101',
          layer: LAYER,
          locations: ['/app/lib/bundle.jar'],
          metadata: { evidence: 'manifest', evidencePath: 'META-INF/MANIFEST.MF', artifactId: 'org.example.bundle', nameFrom: 'Bundle-SymbolicName', versionFrom: 'Bundle-Version' },
        },
        {
          type: 'maven',
          name: 'spring-core',
          version: '6.1.2',
          purl: 'pkg:maven/org.springframework.a.group.id.long.enough.to.be.wrapped.by.the.jar.tool.at.seventy.two.bytes/spring-core@6.1.2',
          licenses: ['Apache-2.0'], // spdx-correct knows the URL
          layer: LAYER,
          locations: ['/app/lib/core.jar'],
          metadata: {
            evidence: 'manifest',
            evidencePath: 'META-INF/MANIFEST.MF',
            groupId: 'org.springframework.a.group.id.long.enough.to.be.wrapped.by.the.jar.tool.at.seventy.two.bytes',
            artifactId: 'spring-core',
            nameFrom: 'Implementation-Title',
            versionFrom: 'Implementation-Version',
          },
        },
      ],
    });
  });

  it('uses the file name as the last evidence; a jar with no version anywhere gives nothing', () => {
    const result = scan('filename');
    expect(result.issues).toEqual([]);
    expect(result.packages).toEqual([
      {
        type: 'maven',
        name: 'UPPER-CASE',
        version: '1.0',
        purl: 'pkg:maven/UPPER-CASE/UPPER-CASE@1.0',
        layer: LAYER,
        locations: ['/usr/share/java/UPPER-CASE-1.0.JAR'],
        metadata: { evidence: 'file name', evidencePath: 'UPPER-CASE-1.0.JAR', artifactId: 'UPPER-CASE' },
      },
      {
        type: 'maven',
        name: 'commons-collections',
        version: '3.2.2',
        purl: 'pkg:maven/commons-collections/commons-collections@3.2.2',
        layer: LAYER,
        locations: ['/usr/share/java/commons-collections-3.2.2.jar'],
        metadata: { evidence: 'file name', evidencePath: 'commons-collections-3.2.2.jar', artifactId: 'commons-collections' },
      },
      {
        type: 'maven',
        name: 'log4j-1.2-api',
        version: '2.17.1',
        purl: 'pkg:maven/log4j-1.2-api/log4j-1.2-api@2.17.1',
        layer: LAYER,
        locations: ['/usr/share/java/log4j-1.2-api-2.17.1.jar'],
        metadata: { evidence: 'file name', evidencePath: 'log4j-1.2-api-2.17.1.jar', artifactId: 'log4j-1.2-api' },
      },
    ]);
  });

  it('reads the jars in a war (a corrupt one is an issue) and in a Jenkins plugin', () => {
    const result = scan('war');
    expect(brief(result.packages)).toEqual([
      'pkg:maven/com.example/shop@3.4.0 pom.properties /srv/shop.war',
      'pkg:maven/com.google.code.gson/gson@2.10.1 pom.properties /srv/shop.war!/WEB-INF/lib/gson-2.10.1.jar',
      'pkg:maven/org.jenkins-ci.plugins/git@5.2.1 pom.properties /var/jenkins_home/plugins/git.hpi',
      'pkg:maven/org.slf4j/slf4j-api@2.0.9 pom.properties /srv/shop.war!/WEB-INF/lib/slf4j-api-2.0.9.jar',
    ]);
    expect(result.issues).toEqual([
      {
        cataloger: 'java',
        path: '/srv/shop.war!/WEB-INF/lib/broken-1.0.jar',
        layer: LAYER,
        message: 'not a readable zip archive: no end-of-central-directory record (not a zip, or truncated)',
      },
    ]);
  });

  it('reads an ear holding a war holding jars', () => {
    const result = scan('ear');
    expect(result.issues).toEqual([]);
    expect(brief(result.packages)).toEqual([
      'pkg:maven/com.example/web@1.0.0 manifest /opt/app.ear!/web.war',
      'pkg:maven/com.fasterxml.jackson.core/jackson-core@2.16.0 pom.properties /opt/app.ear!/web.war!/WEB-INF/lib/jackson-core-2.16.0.jar',
      'pkg:maven/commons-io/commons-io@2.15.1 pom.properties /opt/app.ear!/lib/commons-io-2.15.1.jar',
      'pkg:maven/legacy-util/legacy-util@3.1 file name /opt/app.ear!/web.war!/WEB-INF/lib/legacy-util-3.1.jar',
    ]);
  });

  it('reads a Spring Boot fat jar: stored BOOT-INF/lib, a shaded jar, one library at two paths reported once', () => {
    const result = scan('boot');
    expect(result.issues).toEqual([]);
    expect(brief(result.packages)).toEqual([
      'pkg:maven/com.example/demo@0.0.1-SNAPSHOT pom.properties /app/app.jar',
      expect.stringMatching(
        /^pkg:maven\/com\.fasterxml\.jackson\.core\/jackson-databind@2\.16\.0 pom\.properties \/app\/app\.jar!\/BOOT-INF\/lib\/(copy\/)?jackson-databind-2\.16\.0\.jar \/app\/app\.jar!\/BOOT-INF\/lib\/(copy\/)?jackson-databind-2\.16\.0\.jar$/,
      ),
      'pkg:maven/com.google.guava/guava@32.1.2-jre pom.properties /app/app.jar!/BOOT-INF/lib/everything-all-1.0.jar',
      'pkg:maven/org.example/everything@1.0 pom.properties /app/app.jar!/BOOT-INF/lib/everything-all-1.0.jar',
      'pkg:maven/org.ow2.asm/asm@9.5 pom.properties /app/app.jar!/BOOT-INF/lib/everything-all-1.0.jar',
      'pkg:maven/spring-core/spring-core@6.1.2 manifest /app/app.jar!/BOOT-INF/lib/spring-core-6.1.2.jar',
    ]);
    const jackson = result.packages.find((p) => p.name === 'jackson-databind');
    expect(jackson?.locations.sort()).toEqual(['/app/app.jar!/BOOT-INF/lib/copy/jackson-databind-2.16.0.jar', '/app/app.jar!/BOOT-INF/lib/jackson-databind-2.16.0.jar']);
  });

  it('reads a jar with a launch script before the zip', () => {
    const result = scan('exec');
    expect(result.issues).toEqual([]);
    expect(brief(result.packages)).toEqual(brief(scan('boot').packages).map((line) => line.replaceAll('/app/app.jar', '/app/exec.jar')));
    expect(result.packages).toHaveLength(6);
  });

  it('reads zip64 archives; an archive of more than 50,000 entries is read in part, with an issue', () => {
    const all = scan('zip64', createJavaCataloger({ maxEntries: 100_000 }));
    expect(all.issues).toEqual([]);
    expect(brief(all.packages)).toEqual([
      'pkg:maven/many/many@1.0 file name /app/many-1.0.jar',
      'pkg:maven/org.example/inner@2.0 pom.properties /app/many-1.0.jar!/lib/inner-2.0.jar',
    ]);
    const part = scan('zip64');
    expect(issues(part)).toEqual([expect.stringMatching(/^\/app\/many-1\.0\.jar: 700\d\d entries, only the first 50000 read \(limit: 50000 entries per archive\); packages recorded in the others are missing$/)]);
    expect(brief(part.packages)).toContain('pkg:maven/many/many@1.0 file name /app/many-1.0.jar');
  });

  it('lists 20 issues per archive in the image, and counts the rest', () => {
    const result = scan('noisy');
    expect(result.issues).toHaveLength(21);
    expect(result.issues.slice(0, 20).every((i) => /^\/app\/noisy\.war!\/WEB-INF\/lib\/broken\d+\.jar$/.test(i.path) && i.message.startsWith('not a readable zip archive'))).toBe(true);
    expect(result.issues[20]).toEqual({ cataloger: 'java', path: '/app/noisy.war', layer: LAYER, message: '5 more issues in this archive not listed' });
  });

  it('reports corrupt, truncated and empty archives as issues', () => {
    const result = scan('corrupt');
    expect(result.packages).toEqual([]);
    expect(issues(result)).toEqual([
      `/app/bad-offset.jar: not a readable zip archive: central directory offset ${cdOffset + 1} is past its actual position ${cdOffset}`,
      '/app/empty.jar: not a readable zip archive: empty file',
      '/app/random.jar: not a readable zip archive: no end-of-central-directory record (not a zip, or truncated)',
      '/app/truncated-1.0.jar: not a readable zip archive: no end-of-central-directory record (not a zip, or truncated)',
    ]);
  });

  it('names an archive too large to be read by its file name, with an issue', () => {
    const result = scan('plain', createJavaCataloger({ maxArchiveBytes: 100 }));
    expect(brief(result.packages)).toEqual(['pkg:maven/commons-text/commons-text@1.10.0 file name /app/lib/commons-text-1.10.0.jar']);
    expect(issues(result)).toEqual([
      '/app/lib/commons-text-1.10.0.jar: archive not read: larger than 100 bytes (maxArchiveBytes); its file name is the only evidence used',
    ]);
  });

  it('opens archives at most 4 levels deep', () => {
    const result = scan('deep');
    const inner = '/app/depth0.jar!/lib/depth1.jar!/lib/depth2.jar!/lib/depth3.jar!/lib/depth4.jar';
    expect(brief(result.packages)).toEqual([0, 1, 2, 3, 4].map((d) => `pkg:maven/org.example/depth${d}@1.0 pom.properties ${inner.split('!/').slice(0, d + 1).join('!/')}`));
    expect(issues(result)).toEqual([`${inner}: 1 archive inside not opened: nesting deeper than 4 levels (first: lib/depth5.jar)`]);
  });

  it('stops an entry that inflates past its declared size, and refuses one declared past the inflate limit', () => {
    const result = scan('bomb');
    expect(brief(result.packages)).toEqual(['pkg:maven/org.example/huge-lie@1.0 pom.properties /app/huge-lie.jar', 'pkg:maven/org.example/small-lie@1.0 pom.properties /app/small-lie.jar']);
    expect(issues(result)).toEqual([
      '/app/huge-lie.jar!/lib/zeros.jar: inflated-bytes limit (268435456 bytes for one archive and those inside it) reached: 1 entry not read, from /app/huge-lie.jar!/lib/zeros.jar on',
      '/app/small-lie.jar: lib/zeros.jar: inflates to more than its declared 1000 bytes',
    ]);
  });

  it('keeps within a lower inflate limit: what fits is read, the rest is one issue', () => {
    // the war's own pom.properties (~100 bytes) fits; its deflated jars do not
    const result = scan('war', createJavaCataloger({ maxInflatedBytes: 200 }));
    expect(brief(result.packages)).toEqual([
      'pkg:maven/com.example/shop@3.4.0 pom.properties /srv/shop.war',
      'pkg:maven/org.jenkins-ci.plugins/git@5.2.1 pom.properties /var/jenkins_home/plugins/git.hpi',
    ]);
    expect(issues(result)).toEqual([
      expect.stringMatching(/^\/srv\/shop\.war!\/WEB-INF\/lib\/[^ ]+\.jar: inflated-bytes limit \(200 bytes for one archive and those inside it\) reached: 3 entries not read, from \/srv\/shop\.war!\/WEB-INF\/lib\/[^ ]+\.jar on$/),
      expect.stringMatching(/^\/var\/jenkins_home\/plugins\/git\.hpi!\/WEB-INF\/lib\/git\.jar: inflated-bytes limit .* 1 entry not read/),
    ]);
  });

  it('reads at most maxEntries entries of one archive, and maxTotalEntries in all', () => {
    const few = scan('plain', createJavaCataloger({ maxEntries: 3 }));
    expect(issues(few)).toEqual(['/app/lib/commons-text-1.10.0.jar: 11 entries, only the first 3 read (limit: 3 entries per archive); packages recorded in the others are missing']);
    const total = scan('ear', createJavaCataloger({ maxTotalEntries: 8 }));
    expect(total.issues.length).toBeGreaterThan(0);
    expect(total.issues.every((i) => /only the first \d+ read \(limit: 8 entries for one archive and those inside it\)/.test(i.message))).toBe(true);
  });

  it('finds the same packages in an image layer, read by the walker while it streams, and keeps no archive', async () => {
    const layout = join(work, 'layout-ear');
    const built = await buildImage(layout, { tag: 'ear', layers: [{ fromDirectory: root('ear') }] });
    const ref = `oci:${layout}:ear`;
    const [inv] = await scanImage(await openSource(ref), ref, { catalogers: [javaCataloger] });
    const direct = scan('ear');
    const byPurl = (a: { purl: string }, b: { purl: string }) => (a.purl < b.purl ? -1 : 1);
    expect(inv!.packages.map((p) => ({ ...p, layer: LAYER, foundBy: undefined })).sort(byPurl)).toEqual(direct.packages.map((p) => ({ ...p, foundBy: undefined })).sort(byPurl));
    expect(new Set(inv!.packages.map((p) => p.layer))).toEqual(new Set([built.layers[0]!.diffId]));
  });

  it('runs as a language cataloger', () => {
    const run = runCatalogers(new DirectoryView(root('ear'), { layer: LAYER }), [javaCataloger]);
    expect(run.packages.map((p) => `${p.foundBy} ${p.name}`)).toEqual(['java commons-io', 'java jackson-core', 'java legacy-util', 'java web']);
  });

  it(`reads a war of ${PERF_JARS} nested jars quickly`, () => {
    const started = performance.now();
    const result = scan('perf');
    const ms = performance.now() - started;
    console.log(`java cataloger: war with ${PERF_JARS} nested jars (${readFileSync(at('perf', '/app/big.war')).length} bytes) read in ${ms.toFixed(0)} ms`);
    expect(result.issues).toEqual([]);
    expect(result.packages).toHaveLength(PERF_JARS);
    const expected = Array.from({ length: PERF_JARS }, (_, i) => `pkg:maven/org.example.perf/lib${i}@1.0.${i} pom.properties /app/big.war!/WEB-INF/lib/lib${i}-1.0.${i}.jar`);
    expect(brief(result.packages)).toEqual(expected.sort());
  });
});

describe('splitFileName', () => {
  it.each([
    ['commons-lang3-3.12.0.jar', 'commons-lang3', '3.12.0'],
    ['guava-32.1.2-jre.jar', 'guava', '32.1.2-jre'],
    ['log4j-1.2-api-2.17.1.jar', 'log4j-1.2-api', '2.17.1'],
    ['netty-tcnative-boringssl-static-2.0.61.Final-linux-x86_64.jar', 'netty-tcnative-boringssl-static', '2.0.61.Final-linux-x86_64'],
    ['bcprov-jdk18on-1.76.jar', 'bcprov-jdk18on', '1.76'],
    ['jetty-server-9.4.51.v20230217.jar', 'jetty-server', '9.4.51.v20230217'],
    ['foo-2-SNAPSHOT.war', 'foo', '2-SNAPSHOT'],
    ['hk2-api-3.0.3.JAR', 'hk2-api', '3.0.3'],
  ])('%s', (file, name, version) => {
    expect(splitFileName(file)).toEqual({ name, version });
  });

  it.each(['app.jar', 'commons.jar', '-1.0.jar', 'lib-.jar', 'x-1.0 beta.jar'])('%s has no version', (file) => {
    expect(splitFileName(file)).toBeUndefined();
  });
});

describe('parseManifest', () => {
  it('joins continuation lines as bytes (a UTF-8 character split across lines), reads only the main section', () => {
    const title = Buffer.from('Implementation-Title: caf\u00e9-lib', 'utf8');
    const splitAt = title.length - 5; // inside the two bytes of "é"
    const bytes = Buffer.concat([
      Buffer.from('Manifest-Version: 1.0\r\n'),
      title.subarray(0, splitAt),
      Buffer.from('\r\n '),
      title.subarray(splitAt),
      Buffer.from('\nimplementation-version:2.0\rCreated-By: x\n\nName: a/b/\nImplementation-Version: 9\n'),
    ]);
    expect(Object.fromEntries(parseManifest(bytes))).toEqual({
      'manifest-version': '1.0',
      'implementation-title': 'caf\u00e9-lib',
      'implementation-version': '2.0',
      'created-by': 'x',
    });
  });
});

describe('parseProperties', () => {
  it('reads java.util.Properties syntax', () => {
    const text = ['# comment', '! also', '  groupId = org.example', 'artifactId:a\\', '   rt', 'version 1.0\\u0041', 'key\\=with\\:colon=v\\tw', 'empty', ''].join('\r\n');
    expect(Object.fromEntries(parseProperties(text))).toEqual({ groupId: 'org.example', artifactId: 'art', version: '1.0A', 'key=with:colon': 'v\tw', empty: '' });
  });
});
