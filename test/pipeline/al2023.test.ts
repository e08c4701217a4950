/**
 * Issue 16, "Done when": an Amazon Linux 2023 image through the pipeline's local stack
 * (test/support/template-stack.ts: every function from its cdk.out bundle with its template
 * environment, on DynamoDB Local, s3rver, local-aws-sqs and the Distribution registry), with the
 * advisory data reaching the evaluator the way production gives it: the FeedSync function,
 * run by its schedule, downloads the al2023-core stream (mirror.list → repomd.xml →
 * updateinfo.xml.gz) into the advisories table, writes the feed summary and announces the
 * changed keys; the rescan re-evaluates the image. Mocked, because they cannot run here: the
 * Lambda runtime, SNS, EventBridge, Secrets Manager and ECR's API (the harness's fakes), and
 * Amazon Linux's repositories and the OSV mirror (local servers answering for their URLs).
 *
 * The image is the one of test/integration/al2023-image.test.ts: the REAL rpmdb.sqlite of an
 * amazonlinux:2023 image with an AL2023 /etc/os-release. The ALAS served are the REAL records of
 * ../shared/fixtures/advisories/amazon/vuln-list-json, written back as the updateinfo
 * `<update>` elements vuln-list-update read them from (field for field: id, title, issued,
 * updated, severity, description, references, pkglist). That inverse is itself checked: applied
 * to the vuln-list record of ALAS2023-2023-001 it reads the same as the real updateinfo sample.
 *
 * A CentOS Stream 9 image beside it has no advisory source: its verdict fails closed and its
 * reports name the distribution.
 *
 * The mirror is the stack's own `alasUrl` setting (DRYDOCK_ALAS_URL on FeedSync), answered
 * locally by the harness's network emulation, as the OSV mirror is.
 */
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { readAlasUpdateinfo, readAlasVulnListJson } from '../../shared/advisories/alas.js';
import { DynamoResultStore } from '../../shared/adapters/aws/dynamodb/result-store.js';
import { htmlReportKey } from '../../shared/pipeline/deps.js';
import { ALAS_SUMMARY_BASE, feedSummaryKey } from '../../shared/pipeline/feed-sync.js';
import type { ResultMessage } from '../../shared/pipeline/messages.js';
import { AMAZON, startAlasServer, type AlasServer } from '../support/alas-server.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { startOsvServer, type OsvServer } from '../support/osv-server.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import {
  cleanupAssemblies,
  describe as describeRuns,
  startTemplateStack,
  synthesizeAssembly,
  type InvocationRecord,
  type TemplateStack,
} from '../support/template-stack.js';
import { pushEvent, pushImage } from './support.js';
import { OS_RELEASE_CENTOS_STREAM_9, osReleaseAl2023 } from '../integration/helpers.js';

const OSV_MIRROR = 'https://osv-mirror.drydock.test';
const ALAS_MIRROR = 'https://alas-mirror.drydock.test';
const REPOSITORY = 'lambda/nodejs';
const TAG = '22-al2023';
const OS_RELEASE_AL2023 = osReleaseAl2023();
const RPMDB = join(SHARED_FIXTURES, 'pkgdb/rpm/sqlite-amazonlinux2023/rpmdb.sqlite');
const VULN_LIST = join(AMAZON, 'vuln-list-json');

/** What the ALAS records published for the fixture rpmdb's packages. */
const EXPECTED: Record<string, { advisory: string; fixedIn: string; severity: string }> = {
  expat: { advisory: 'ALAS2023-2024-576', fixedIn: '0:2.5.0-1.amzn2023.0.4', severity: 'high' },
  'krb5-libs': { advisory: 'ALAS2023-2024-586', fixedIn: '0:1.21-3.amzn2023.0.4', severity: 'medium' },
  libnghttp2: { advisory: 'ALAS2023-2024-592', fixedIn: '0:1.59.0-3.amzn2023.0.1', severity: 'high' },
  'curl-minimal': { advisory: 'ALAS2023-2024-606', fixedIn: '0:8.5.0-1.amzn2023.0.2', severity: 'medium' },
  'libcurl-minimal': { advisory: 'ALAS2023-2024-606', fixedIn: '0:8.5.0-1.amzn2023.0.2', severity: 'medium' },
};

// ───────────────────── vuln-list's ALAS JSON → updateinfo <update> ─────────────────────

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface VulnListAlas {
  id: string;
  title: string;
  issued: { date: string };
  updated: { date: string };
  severity: string;
  description: string;
  packages: Array<{ name: string; epoch: string; version: string; release: string; arch: string; filename: string }>;
  references?: Array<{ href: string; id: string; title?: string; type: string }>;
}

/** The `<update>` element vuln-list-update read a record from (its fields, in updateinfo's order). */
function updateElement(r: VulnListAlas): string {
  const refs = (r.references ?? []).map((x) => `<reference href="${esc(x.href)}" title="${esc(x.title ?? '')}" id="${esc(x.id)}" type="${esc(x.type)}" />`).join('');
  const pkgs = r.packages
    .map((p) => `<package name="${esc(p.name)}" version="${esc(p.version)}" release="${esc(p.release)}" epoch="${esc(p.epoch)}" arch="${esc(p.arch)}"><filename>${esc(p.filename)}</filename></package>`)
    .join('');
  return (
    `<update status="final" version="1.4" author="linux-security@amazon.com" type="security" from="linux-security@amazon.com">` +
    `<id>${esc(r.id)}</id><title>${esc(r.title)}</title><issued date="${esc(r.issued.date)}" /><updated date="${esc(r.updated.date)}" />` +
    `<severity>${esc(r.severity)}</severity><description>${esc(r.description)}</description><references>${refs}</references>` +
    `<pkglist><collection short="amazon-linux-2023"><name>Amazon Linux 2023</name>${pkgs}</collection></pkglist></update>`
  );
}

const updateinfo = (records: VulnListAlas[]) => `<?xml version="1.0" ?>\n<updates>${records.map(updateElement).join('')}</updates>\n`;

// ───────────────────────────── the stack ─────────────────────────────

let stack: TemplateStack;
let registry: TestRegistry;
let osv: OsvServer;
let alas: AlasServer;
let work: string;
let digest: string;

const failedRuns = (runs: InvocationRecord[]) => runs.filter((r) => !r.outcome.ok || (r.failures?.length ?? 0) > 0);
const printLogsOnFailure = () => onTestFailed(() => console.error(`function logs:\n${stack.logs()}\ninvocations:\n${describeRuns(stack.invocations)}`));
const published = () => stack.sns.published.map((p) => ({ attributes: p.attributes, msg: JSON.parse(p.message) as ResultMessage }));

beforeAll(async () => {
  const records = await Promise.all(
    (await readdir(VULN_LIST)).filter((f) => /^ALAS2023-2024-\d+\.json$/.test(f)).sort().map(async (f) => JSON.parse(await readFile(join(VULN_LIST, f), 'utf8')) as VulnListAlas),
  );
  expect(records.map((r) => r.id)).toEqual(['ALAS2023-2024-576', 'ALAS2023-2024-586', 'ALAS2023-2024-592', 'ALAS2023-2024-606']);
  let synthesized;
  [synthesized, registry, osv, alas] = await Promise.all([
    // Slack and the exploit feeds (KEV, EPSS) off, both supported settings: this file is about Amazon Linux's advisories
    synthesizeAssembly({ slack: 'false', exploitFeeds: 'false', osvUrl: OSV_MIRROR, alasUrl: ALAS_MIRROR, ecosystems: 'Debian', alasStreams: 'al2023-core' }),
    startRegistry(),
    startOsvServer(),
    startAlasServer(),
  ]);
  const assembly = synthesized;
  osv.set('Debian', []);
  await alas.set('al2023-core', gzipSync(updateinfo(records)));
  work = await mkdtemp(join(tmpdir(), 'drydock-al2023-stack-'));
  stack = await startTemplateStack({ assembly, registry, externalUrls: { [OSV_MIRROR]: osv.url, [ALAS_MIRROR]: alas.url } });
  digest = await pushImage(work, registry.host, TAG, [{ files: [{ path: 'etc/os-release', content: OS_RELEASE_AL2023 }, { path: 'var/lib/rpm/rpmdb.sqlite', content: await readFile(RPMDB) }] }], REPOSITORY);
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all([registry?.stop(), osv?.stop(), alas?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
  await cleanupAssemblies();
}, 60_000);

describe('the updateinfo the local mirror serves', () => {
  it('is vuln-list-update read backwards: ALAS2023-2023-001 written back from its vuln-list record reads as the real updateinfo sample does', async () => {
    const json = JSON.parse(await readFile(join(VULN_LIST, 'ALAS2023-2023-001.expected-from-updateinfo.vuln-list-update.json'), 'utf8')) as VulnListAlas;
    const real = await readAlasUpdateinfo(gunzipSync(await readFile(join(AMAZON, 'updateinfo', 'al2023-core.ALAS2023-2023-001.vuln-list-update.xml.gz'))));
    const ours = await readAlasUpdateinfo(Buffer.from(updateinfo([json])));
    expect(real.advisories).toHaveLength(1);
    expect(ours.issues).toEqual([]);
    expect(ours.advisories).toEqual(real.advisories);
    // and each served record reads as the CLI reads the vuln-list file itself
    for (const f of ['ALAS2023-2024-576.json', 'ALAS2023-2024-606.json']) {
      const record = JSON.parse(await readFile(join(VULN_LIST, f), 'utf8')) as VulnListAlas;
      const fromXml = (await readAlasUpdateinfo(Buffer.from(updateinfo([record])))).advisories;
      expect(fromXml.map((a) => [a.id, a.aliases, a.severity, a.affected.map((x) => [x.ecosystem, x.name, x.intervals])])).toEqual(
        readAlasVulnListJson(record).advisories.map((a) => [a.id, a.aliases, a.severity, a.affected.map((x) => [x.ecosystem, x.name, x.intervals])]),
      );
    }
  });
});

describe('an AL2023 image through the local stack: ECR push → analyzer → evaluator; feed sync → rescan → evaluator', () => {
  it('before any Amazon Linux feed was synced, the verdict fails closed: advisory data missing, not "no findings"', async () => {
    printLogsOnFailure();
    expect(await stack.putEvent({ ...pushEvent(digest, TAG, REPOSITORY), account: stack.account, region: stack.region })).toBe(1);
    const runs = await stack.drain();
    expect(failedRuns(runs), describeRuns(runs)).toEqual([]);
    expect(runs.map((r) => r.fn)).toEqual(['Analyzer', 'Evaluator']);
    const [first] = published();
    expect(first!.msg).toMatchObject({ status: 'fail', image: { digest, repository: REPOSITORY, tags: [TAG], distro: 'amzn 2023' } });
    expect(first!.msg.counts).toMatchObject({ critical: 0, high: 0, medium: 0 });
    expect(first!.msg.advisoryData).toMatchObject({ covered: [], uncovered: ['Amazon Linux:2023'], problems: [expect.stringMatching(/^advisory data missing for Amazon Linux:2023/)] });
    expect(first!.msg.advisoryData!.accepted).not.toBe(true);
    const item = (await stack.docs.send(new GetCommand({ TableName: stack.outputs.ImagesTableName, Key: { digest }, ConsistentRead: true }))).Item;
    expect(item).toMatchObject({ status: 'evaluated', packageCount: 102, lastVerdict: { status: 'fail', findings: 0 } });
  }, 180_000);

  it('the scheduled feed sync stores the ALAS, writes the Amazon Linux summary and announces the keys; the rescan gives the ALAS findings and a verdict', async () => {
    printLogsOnFailure();
    const before = stack.sns.published.length;
    // The evaluator stays warm from the push's evaluation: its cached "never synced" summary is
    // read again because it does not cover the image (evaluate.ts), so the rescan sees the sync.
    await stack.runSchedule('FeedSyncSchedule');
    const runs = await stack.drain();
    expect(failedRuns(runs), describeRuns(runs)).toEqual([]);
    expect(runs.map((r) => r.fn)).toEqual(['FeedSync', 'Rescan', 'Evaluator']);
    // the mirror was read as Amazon's is: mirror.list → repomd.xml → the updateinfo it names
    expect(alas.requests.map((r) => `${r.path} ${r.status}`)).toEqual([
      '/al2023-core/mirror.list 200',
      '/al2023-core/mirror/x86_64/repodata/repomd.xml 200',
      '/al2023-core/mirror/x86_64/repodata/updateinfo.xml.gz 200',
    ]);
    const summary = JSON.parse(
      await (await stack.s3Client.send(new GetObjectCommand({ Bucket: stack.outputs.BucketName, Key: feedSummaryKey(ALAS_SUMMARY_BASE) }))).Body!.transformToString(),
    ) as { ecosystems: string[]; advisories: number };
    expect(summary).toMatchObject({ ecosystems: ['Amazon Linux:2023'] });

    const mine = published().slice(before);
    expect(mine).toHaveLength(1);
    const { msg, attributes } = mine[0]!;
    // two Important ALAS (high), none critical: the default policy's vuln-high rule WARNs
    expect(msg).toMatchObject({ status: 'warn', image: { digest, repository: REPOSITORY }, changed: true, previousStatus: 'fail' });
    expect(msg.reason).toMatch(/^rescan/);
    expect(msg.counts).toMatchObject({ critical: 0, high: 2, medium: 3 });
    expect(attributes).toMatchObject({ status: msg.status, highestSeverity: 'high', repository: REPOSITORY });
    expect(msg.advisoryData, JSON.stringify(msg.advisoryData)).toMatchObject({ covered: ['Amazon Linux:2023'], uncovered: [] });
    expect(msg.advisoryData!.problems ?? []).toEqual([]);
    const top = new Map((msg.topFindings ?? []).map((f) => [f.package, f]));
    expect([...top.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, want] of Object.entries(EXPECTED)) expect(top.get(name), name).toMatchObject({ fixedIn: want.fixedIn, severity: want.severity });

    const [latest] = await new DynamoResultStore(stack.docs, stack.outputs.ResultsTableName!).history(digest, 1);
    expect(latest).toMatchObject({ digest, status: msg.status, findings: 5 });
  }, 240_000);

  it('a CentOS Stream 9 image (no advisory source): the verdict fails closed and the reports name the distribution', async () => {
    printLogsOnFailure();
    // the real CentOS 8 Berkeley DB rpmdb (syft's fixture, one package: dive)
    const packages = await readFile(join(SHARED_FIXTURES, 'pkgdb/rpm/bdb-centos8-single-dive/Packages'));
    const centos = await pushImage(work, registry.host, 'stream9', [{ files: [{ path: 'etc/os-release', content: OS_RELEASE_CENTOS_STREAM_9 }, { path: 'var/lib/rpm/Packages', content: packages }] }], 'centos/app');
    const before = stack.sns.published.length;
    expect(await stack.putEvent({ ...pushEvent(centos, 'stream9', 'centos/app'), account: stack.account, region: stack.region })).toBe(1);
    const runs = await stack.drain();
    expect(failedRuns(runs), describeRuns(runs)).toEqual([]);
    expect(runs.map((r) => r.fn)).toEqual(['Analyzer', 'Evaluator']);
    const mine = published().slice(before);
    expect(mine).toHaveLength(1);
    const { msg } = mine[0]!;
    expect(msg).toMatchObject({ status: 'fail', image: { digest: centos, repository: 'centos/app', distro: 'centos 9' } });
    expect(msg.advisoryData).toMatchObject({ covered: [], uncovered: ['centos:9'], problems: [expect.stringMatching(/^advisory data missing for centos:9/)] });
    // the stored report (JSON) marks it as having no source; the HTML page a person opens says so in words
    const get = async (key: string) => Buffer.from(await (await stack.s3Client.send(new GetObjectCommand({ Bucket: stack.outputs.BucketName, Key: key }))).Body!.transformToByteArray());
    const report = JSON.parse(gunzipSync(await get(msg.reportKey!)).toString('utf8')) as { vulnerabilities: { coverage: unknown } };
    expect(report.vulnerabilities.coverage).toEqual({ covered: [], uncovered: ['centos:9'], noSource: ['centos:9'] });
    expect((await get(htmlReportKey(msg.reportKey!))).toString('utf8')).toContain('No advisory source for CentOS Stream 9 (os-release ID &quot;centos&quot;, VERSION_ID &quot;9&quot;)');
  }, 180_000);
});

