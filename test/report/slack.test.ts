/**
 * Block Kit messages for results: the blocks a person sees for a failing image with new
 * criticals, Block Kit's limits under 200 findings and absurd strings (checked by the same
 * rules the fake Slack enforces), mrkdwn escaping, and the one summary for many images.
 */
import { describe, expect, it } from 'vitest';
import { schemaErrors, type FindingBrief, type ResultMessage } from '../../shared/pipeline/messages.js';
import { consoleUrlFor, fitBlocks, slackMessage, slackSummary, SLACK_LIMITS, type SlackBlock, type SlackPayload } from '../../shared/report/slack.js';
import { blockKitProblems } from '../support/fake-slack.js';

const DIGEST = `sha256:${'9f'.repeat(32)}`;
const REPORT_URL = `https://drydock-reports.s3.eu-west-1.amazonaws.com/reports/sha256/${'9f'.repeat(32)}/r1.html?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=604800&X-Amz-Signature=${'ab'.repeat(32)}`;

export function result(over: Partial<ResultMessage> = {}): ResultMessage {
  return {
    schema: 'drydock.result/1',
    resultId: '20261123T100000000Z-0123456789ab',
    image: { digest: DIGEST, registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', repository: 'team/api', tags: ['1.4.2'], platform: 'linux/amd64', distro: 'debian 12' },
    status: 'fail',
    previousStatus: 'pass',
    changed: true,
    reason: 'analysis:ecr-event:1',
    highestSeverity: 'critical',
    counts: { critical: 2, high: 3, medium: 4, low: 1, negligible: 0, unknown: 0 },
    policy: { bundleId: 'drydock-default', bundleDigest: `sha256:${'c1'.repeat(32)}`, reason: 'STOP rule fired', rulesFired: 4, stopRules: 2, warnRules: 1 },
    newFindings: [
      { id: 'CVE-2024-0001', severity: 'critical', package: 'openssl', version: '3.0.11-1~deb12u1', fixedIn: '3.0.13-1~deb12u1' },
      { id: 'CVE-2024-0002', severity: 'high', package: 'curl', version: '7.88.1-10', fixedIn: '7.88.1-10+deb12u5' },
      { id: 'CVE-2024-0003', severity: 'critical', package: 'zlib', version: '1.2.13' },
      { id: 'CVE-2024-0004', severity: 'medium', package: 'apt', version: '2.6.1' },
    ],
    resolvedFindings: ['CVE-2023-1111|libc6|2.36-9', 'CVE-2023-2222|curl|7.88.1-9'],
    topFindings: [{ id: 'CVE-2024-0001', severity: 'critical', package: 'openssl', version: '3.0.11-1~deb12u1', fixedIn: '3.0.13-1~deb12u1' }],
    reportKey: `reports/sha256/${'9f'.repeat(32)}/20261123T100000000Z-0123456789ab.json.gz`,
    evaluatedAt: '2026-11-23T10:00:00.000Z',
    ...over,
  };
}

const textOf = (b: SlackBlock): string => {
  if (b.type === 'header') return b.text.text;
  if (b.type === 'section') return [b.text?.text ?? '', ...(b.fields ?? []).map((f) => f.text)].join('\n');
  if (b.type === 'context') return b.elements.map((e) => e.text).join('\n');
  if (b.type === 'actions') return b.elements.map((e) => `${e.text.text} ${e.url}`).join('\n');
  return '';
};
const allText = (p: SlackPayload) => p.blocks.map(textOf).join('\n');

function expectWithinLimits(p: SlackPayload): void {
  expect(blockKitProblems(p)).toEqual([]);
  expect(p.blocks.length).toBeLessThanOrEqual(50);
  expect(p.text.length).toBeGreaterThan(0);
  expect(p.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
}

describe('slackMessage', () => {
  it('a fail with new criticals: header, image section, policy context, new critical/high findings with fixes, resolved count, Full report button', () => {
    const r = result();
    expect(schemaErrors('drydock.result/1', r)).toEqual([]);
    const p = slackMessage(r, { reportUrl: REPORT_URL, consoleUrl: 'https://console.aws.amazon.com/ecr/x' });
    expectWithinLimits(p);
    const [header, image, ctx] = p.blocks;
    expect(header).toEqual({ type: 'header', text: { type: 'plain_text', text: ':x: FAIL (was pass) team/api:1.4.2', emoji: true } });
    expect(image?.type).toBe('section');
    const fields = (image as { fields: Array<{ text: string }> }).fields.map((f) => f.text).join('\n');
    expect(fields).toContain(DIGEST);
    expect(fields).toContain('linux/amd64');
    expect(fields).toContain('debian 12');
    expect(fields).toContain('2 critical, 3 high, 4 medium, 1 low');
    expect(ctx?.type).toBe('context');
    expect(textOf(ctx!)).toMatch(/Policy \*drydock-default\* .* 4 rules fired: 2 STOP, 1 WARN · STOP rule fired/);

    const findings = p.blocks.find((b) => b.type === 'section' && b.text?.text.startsWith('*New critical/high findings (3)*'));
    expect(findings).toBeDefined();
    const lines = textOf(findings!).split('\n').slice(1);
    // critical first, each with its fix (or none), the medium one left out
    expect(lines[0]).toBe(':red_circle: *CVE-2024-0001* critical — `openssl` `3.0.11-1~deb12u1` → fixed in `3.0.13-1~deb12u1`');
    expect(lines[1]).toBe(':red_circle: *CVE-2024-0003* critical — `zlib` `1.2.13` → _no fix yet_');
    expect(lines[2]).toContain('*CVE-2024-0002* high');
    expect(lines[2]).toContain('fixed in `7.88.1-10+deb12u5`');
    expect(allText(p)).not.toContain('CVE-2024-0004');
    expect(allText(p)).toContain('and 1 new findings of lower severity');
    expect(allText(p)).toContain(':white_check_mark: 2 findings resolved since the previous result: `CVE-2023-1111` `CVE-2023-2222`');

    const actions = p.blocks.at(-1)!;
    expect(actions).toEqual({
      type: 'actions',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Full report', emoji: true }, url: REPORT_URL, action_id: 'drydock-report', style: 'primary' },
        { type: 'button', text: { type: 'plain_text', text: 'Open in console', emoji: true }, url: 'https://console.aws.amazon.com/ecr/x', action_id: 'drydock-console' },
      ],
    });
    expect(p.text).toBe('FAIL (was pass) team/api:1.4.2: 2 critical, 3 high, 4 medium, 1 low · new: 3 critical/high');
  });

  it('a first evaluation (no previous result) lists the worst of topFindings instead', () => {
    const r = result({ previousStatus: undefined, newFindings: undefined, resolvedFindings: undefined });
    delete r.previousStatus;
    const p = slackMessage(r);
    expectWithinLimits(p);
    expect(p.blocks[0]).toMatchObject({ text: { text: ':x: FAIL team/api:1.4.2' } });
    expect(allText(p)).toContain('*Critical/high findings (1)*');
    expect(allText(p)).toContain('CVE-2024-0001');
    expect(p.blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('an error result shows the error; a pass with nothing new says so', () => {
    const err = slackMessage(result({ status: 'error', counts: {}, error: { code: 'CORRUPT_LAYER', kind: 'permanent', message: 'gzip: invalid header' }, newFindings: [], resolvedFindings: [] }));
    expectWithinLimits(err);
    expect(err.blocks[0]).toMatchObject({ text: { text: ':rotating_light: ERROR (was pass) team/api:1.4.2' } });
    expect(allText(err)).toContain(':rotating_light: *CORRUPT_LAYER* (permanent)\ngzip: invalid header');
    const pass = slackMessage(result({ status: 'pass', previousStatus: 'pass', newFindings: [], resolvedFindings: [] }));
    expect(pass.blocks[0]).toMatchObject({ text: { text: ':white_check_mark: PASS team/api:1.4.2' } });
    expect(allText(pass)).toContain('No new findings since the previous result.');
  });

  it('escapes mrkdwn: a name cannot become a link or a mention', () => {
    const p = slackMessage(
      result({
        image: { digest: DIGEST, registry: 'r.example', repository: 'team/<!channel>', tags: ['<https://evil.example|click>'] },
        newFindings: [{ id: 'CVE-<!here>', severity: 'critical', package: 'a`b&c', version: '1' }],
      }),
    );
    // the header is plain_text (Slack parses no mentions or links there): it shows the name as it is
    expect(p.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text', text: ':x: FAIL (was pass) team/<!channel>:<https://evil.example|click>' } });
    const text = p.blocks.slice(1).map(textOf).join('\n');
    expect(text).not.toMatch(/<!channel>|<!here>|<https:\/\/evil/);
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).toContain("*CVE-&lt;!here&gt;* critical — `a'b&amp;c`");
    expect(p.text).not.toContain('<!channel>');
  });

  it('200 new critical findings with long names: within Block Kit limits, cut with "… and N more"', () => {
    const many: FindingBrief[] = Array.from({ length: 200 }, (_, i) => ({
      id: `CVE-2024-${String(10000 + i)}`,
      severity: i % 2 ? 'critical' : 'high',
      package: `package-${i}-${'x'.repeat(i % 7 === 0 ? 400 : 10)}`,
      version: `1.${i}.0`,
      fixedIn: `1.${i}.1`,
    }));
    const p = slackMessage(result({ newFindings: many }), { reportUrl: REPORT_URL });
    expectWithinLimits(p);
    const text = allText(p);
    expect(text).toContain('*New critical/high findings (200)*');
    expect(text).toContain('… and 185 more');
    expect(p.blocks.at(-1)).toMatchObject({ type: 'actions', elements: [{ url: REPORT_URL }] });

    // everything at once, and strings far past every limit
    const huge = slackMessage(
      result({
        image: { digest: DIGEST, registry: 'r'.repeat(5000), repository: 'team/'.repeat(200), tags: Array.from({ length: 40 }, (_, i) => `tag-${i}-${'t'.repeat(300)}`), platform: 'p'.repeat(3000), distro: 'd'.repeat(3000) },
        newFindings: many.map((f) => ({ ...f, package: 'p'.repeat(5000) })),
        resolvedFindings: Array.from({ length: 200 }, (_, i) => `CVE-${i}-${'r'.repeat(200)}|x|1`),
        error: { code: 'X', message: 'm'.repeat(10000) },
        policy: { bundleId: 'b'.repeat(4000), bundleDigest: 'sha256:x', reason: 'q'.repeat(4000) },
      }),
      { reportUrl: REPORT_URL, maxFindings: 200 },
    );
    expectWithinLimits(huge);
    expect(allText(huge)).toMatch(/… and \d+ more/);
  });

  it('a report URL longer than a button allows is left out (with a note), not sent to be refused', () => {
    const long = `https://x.example/${'a'.repeat(3100)}`;
    const p = slackMessage(result(), { reportUrl: long });
    expectWithinLimits(p);
    expect(p.blocks.some((b) => b.type === 'actions')).toBe(false);
    expect(allText(p)).toContain('report link was too long');
  });

  it('fitBlocks keeps 50 blocks, the actions last', () => {
    const blocks: SlackBlock[] = [...Array.from({ length: 60 }, (_, i): SlackBlock => ({ type: 'section', text: { type: 'mrkdwn', text: `s${i}` } })), { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'r' }, url: 'https://x', action_id: 'a' }] }];
    const fit = fitBlocks(blocks);
    expect(fit).toHaveLength(50);
    expect(fit.at(-1)!.type).toBe('actions');
    expect(textOf(fit.at(-2)!)).toBe('… and 12 more');
  });

  it('consoleUrlFor fills the template', () => {
    expect(consoleUrlFor('https://c.example/ecr/{repository}/_/image/{digest}?tag={tag}', result())).toBe(`https://c.example/ecr/team/api/_/image/${encodeURIComponent(DIGEST)}?tag=1.4.2`);
    expect(consoleUrlFor(undefined, result())).toBeUndefined();
  });
});

describe('slackSummary', () => {
  const statuses = ['fail', 'fail', 'fail', 'warn', 'warn', 'warn', 'warn', 'pass', 'pass', 'pass', 'pass', 'pass'] as const;
  const results = statuses.map((status, i) =>
    result({
      resultId: `r-${i}`,
      status,
      previousStatus: status === 'pass' ? 'warn' : 'pass',
      reason: 'rescan:feed-update-42',
      image: { digest: DIGEST, registry: 'r.example', repository: `team/svc-${String(i).padStart(2, '0')}`, tags: ['1.0'] },
      highestSeverity: status === 'fail' ? 'critical' : status === 'warn' ? 'high' : 'medium',
      counts: { critical: status === 'fail' ? i + 1 : 0, high: 2, medium: 1 },
    }),
  );

  it('12 results: one message with the tally, the worst listed first, the rest counted', () => {
    const p = slackSummary(results, { reportUrl: (r) => `https://reports.example/${r.resultId}.html` });
    expectWithinLimits(p);
    expect(p.text).toMatch(/^12 images changed verdict after the advisory update: 3 fail, 4 warn, 5 pass/);
    expect(p.blocks[0]).toMatchObject({ type: 'header', text: { text: ':x: 12 images changed verdict after the advisory update: 3 fail, 4 warn, 5 pass' } });
    const listed = p.blocks.filter((b) => b.type === 'section' && /^:(x|warning|white_check_mark|rotating_light): \*/.test(b.text?.text ?? ''));
    expect(listed).toHaveLength(8);
    // fails first, the one with the most criticals first among them
    expect(textOf(listed[0]!)).toContain('`team/svc-02:1.0`');
    expect(listed.slice(0, 3).every((b) => textOf(b).startsWith(':x: *FAIL* (was pass)'))).toBe(true);
    expect(textOf(listed[3]!)).toMatch(/^:warning: \*WARN\*/);
    expect(textOf(listed[0]!)).toContain('<https://reports.example/r-2.html|report>');
    expect(allText(p)).toContain('… and 4 more');
    expect(allText(p)).toContain('New critical/high findings: 36');
  });

  it('results that did not all change verdict are counted as results', () => {
    const mixed = results.slice(0, 6).map((r, i) => (i < 2 ? { ...r, previousStatus: r.status } : r));
    const p = slackSummary(mixed);
    expectWithinLimits(p);
    expect(p.text).toMatch(/^6 image results after the advisory update \(4 changed verdict\): 3 fail, 3 warn/);
  });
});
