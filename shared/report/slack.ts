/**
 * Slack Block Kit messages for results (drydock.result/1): one message per image, and one
 * summary when a single event brings many (an advisory update that changed a dozen verdicts).
 *
 * Block Kit's limits are enforced here, not hoped for: at most 50 blocks, 150 characters of
 * header text, 3000 characters per section text, 2000 per section field, 10 fields, 10 context
 * elements, 75 characters of button text, 3000 characters of button URL. What does not fit is
 * cut with "… and N more". Text from the image (repository, tags, package names, messages) is
 * escaped for mrkdwn (&, <, >), so a name can never become a link or an @channel.
 */
import { SEVERITIES } from '../advisories/types.js';
import type { FindingBrief, ResultMessage, Verdict } from '../pipeline/messages.js';

export const SLACK_LIMITS = {
  blocks: 50,
  headerText: 150,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  contextElements: 10,
  buttonText: 75,
  buttonUrl: 3000,
  /** the notification fallback: Slack truncates `text` far later, but a notification is read at a glance */
  fallbackText: 3000,
} as const;

export interface PlainText {
  type: 'plain_text';
  text: string;
  emoji?: boolean;
}
export interface Mrkdwn {
  type: 'mrkdwn';
  text: string;
}
export interface HeaderBlock {
  type: 'header';
  text: PlainText;
}
export interface SectionBlock {
  type: 'section';
  text?: Mrkdwn;
  fields?: Mrkdwn[];
}
export interface ContextBlock {
  type: 'context';
  elements: Mrkdwn[];
}
export interface DividerBlock {
  type: 'divider';
}
export interface ButtonElement {
  type: 'button';
  text: PlainText;
  url: string;
  action_id: string;
  style?: 'primary' | 'danger';
}
export interface ActionsBlock {
  type: 'actions';
  elements: ButtonElement[];
}
export type SlackBlock = HeaderBlock | SectionBlock | ContextBlock | DividerBlock | ActionsBlock;

/** What an incoming webhook accepts: `text` is the notification (and the fallback), `blocks` the message. */
export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
}

export interface SlackMessageOptions {
  /** the full report (a pre-signed URL): the "Full report" button */
  reportUrl?: string;
  /** where to see the image (ECR console, a dashboard): an "Open in console" button */
  consoleUrl?: string;
  /** findings listed before "… and N more" (default 15) */
  maxFindings?: number;
}

export const VERDICT_EMOJI: Record<Verdict, string> = {
  pass: ':white_check_mark:',
  warn: ':warning:',
  fail: ':x:',
  error: ':rotating_light:',
};

const SEVERITY_EMOJI: Record<string, string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':large_blue_circle:',
  negligible: ':white_circle:',
  unknown: ':white_circle:',
};

const STATUS_RANK: Record<Verdict, number> = { fail: 4, error: 3, warn: 2, pass: 1 };

/** mrkdwn's three control characters, as Slack documents; nothing else needs escaping. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Inline code that cannot be broken out of (a backtick would end it). */
function code(s: string): string {
  return `\`${escapeMrkdwn(s.replace(/`/g, "'"))}\``;
}

/** Cuts to `max` characters, ending with "…". */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  return `${s.slice(0, Math.max(0, max - 1))}…`;
}

function severityRank(s: string): number {
  const i = (SEVERITIES as readonly string[]).indexOf(s);
  return i < 0 ? 0 : SEVERITIES.length - i;
}

/** "team/api:1.4.2" (the first tag), else "team/api@sha256:abcd1234…". */
export function imageLabel(image: ResultMessage['image']): string {
  return image.tags[0] ? `${image.repository}:${image.tags[0]}` : `${image.repository}@${image.digest.slice(0, 19)}…`;
}

function countsLine(counts: Record<string, number>): string {
  const parts = SEVERITIES.filter((s) => (counts[s] ?? 0) > 0).map((s) => `${counts[s]} ${s}`);
  const extra = Object.keys(counts)
    .filter((k) => !(SEVERITIES as readonly string[]).includes(k) && (counts[k] ?? 0) > 0)
    .map((k) => `${counts[k]} ${k}`);
  const all = [...parts, ...extra];
  return all.length ? all.join(', ') : 'no findings';
}

/**
 * Lines packed into sections of at most 3000 characters each, at most `maxSections` of them;
 * what is left over becomes "… and N more" (counted in items, not lines, when `more` says so).
 */
function packLines(heading: string, lines: string[], opts: { maxSections: number; hidden?: number; moreSuffix?: string }): SectionBlock[] {
  const out: SectionBlock[] = [];
  const limit = SLACK_LIMITS.sectionText;
  const suffix = opts.moreSuffix ?? '';
  let current = heading;
  let shown = 0;
  const moreLine = (n: number) => `_… and ${n} more${suffix}_`;
  for (let i = 0; i < lines.length; i++) {
    const line = truncate(lines[i]!, limit - 200);
    const rest = lines.length - i - 1 + (opts.hidden ?? 0);
    // room for this line, and for the "… and N more" line that may have to follow it
    const reserve = rest > 0 ? moreLine(rest).length + 1 : 0;
    if (current.length + 1 + line.length + reserve <= limit) {
      current += `\n${line}`;
      shown++;
      continue;
    }
    if (out.length + 1 < opts.maxSections && `${line}`.length + reserve <= limit) {
      out.push({ type: 'section', text: { type: 'mrkdwn', text: current } });
      current = line;
      shown++;
      continue;
    }
    break;
  }
  const hidden = lines.length - shown + (opts.hidden ?? 0);
  if (hidden > 0) current += `\n${moreLine(hidden)}`;
  out.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(current, limit) } });
  return out;
}

function findingLine(f: FindingBrief): string {
  const fix = f.fixedIn ? `fixed in ${code(f.fixedIn)}` : '_no fix yet_';
  const on = f.platforms?.length ? ` · on ${f.platforms.map(escapeMrkdwn).join(', ')}` : '';
  return `${SEVERITY_EMOJI[f.severity] ?? ':white_circle:'} *${escapeMrkdwn(f.id)}* ${escapeMrkdwn(f.severity)} — ${code(f.package)} ${code(f.version)} → ${fix}${on}`;
}

function button(text: string, url: string | undefined, actionId: string, style?: 'primary'): ButtonElement | undefined {
  if (!url || url.length > SLACK_LIMITS.buttonUrl || !/^https?:\/\//i.test(url)) return undefined;
  return { type: 'button', text: { type: 'plain_text', text: truncate(text, SLACK_LIMITS.buttonText), emoji: true }, url, action_id: actionId, ...(style ? { style } : {}) };
}

function header(text: string): HeaderBlock {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, SLACK_LIMITS.headerText), emoji: true } };
}

function context(...texts: string[]): ContextBlock {
  return { type: 'context', elements: texts.slice(0, SLACK_LIMITS.contextElements).map((t) => ({ type: 'mrkdwn', text: truncate(t, SLACK_LIMITS.sectionText) })) };
}

/** One result as a Block Kit message. */
export function slackMessage(result: ResultMessage, opts: SlackMessageOptions = {}): SlackPayload {
  const img = result.image;
  // a retag is published for its new tag: name the image by it
  const label = result.newTags?.[0] ? `${img.repository}:${result.newTags[0]}` : imageLabel(img);
  const verdict = result.status.toUpperCase();
  const was = result.previousStatus && result.previousStatus !== result.status ? ` (was ${result.previousStatus})` : '';
  const blocks: SlackBlock[] = [header(`${VERDICT_EMOJI[result.status]} ${verdict}${was} ${label}`)];

  const fields: Mrkdwn[] = [
    { type: 'mrkdwn', text: `*Image*\n${code(`${img.registry}/${img.repository}`)}` },
    { type: 'mrkdwn', text: `*Tags*\n${img.tags.length ? img.tags.slice(0, 10).map(code).join(' ') + (img.tags.length > 10 ? ` … and ${img.tags.length - 10} more` : '') : '_none_'}` },
    { type: 'mrkdwn', text: `*Digest*\n${code(img.digest)}` },
    { type: 'mrkdwn', text: `*Platform*\n${img.platform ? escapeMrkdwn(img.platform) : '_unknown_'}` },
    { type: 'mrkdwn', text: `*Distro*\n${img.distro ? escapeMrkdwn(img.distro) : '_unknown_'}` },
    { type: 'mrkdwn', text: `*Findings*\n${escapeMrkdwn(countsLine(result.counts))}` },
  ];
  blocks.push({ type: 'section', fields: fields.slice(0, SLACK_LIMITS.fields).map((f) => ({ ...f, text: truncate(f.text, SLACK_LIMITS.fieldText) })) });

  const p = result.policy;
  const policyLine = p
    ? `Policy *${escapeMrkdwn(p.bundleId)}* (${code(p.bundleDigest.slice(0, 19))}) · ${p.rulesFired ?? 0} rules fired: ${p.stopRules ?? 0} STOP, ${p.warnRules ?? 0} WARN${p.reason ? ` · ${escapeMrkdwn(p.reason)}` : ''}`
    : 'No policy evaluated';
  blocks.push(context(policyLine, `${escapeMrkdwn(result.reason ?? 'evaluation')} · ${escapeMrkdwn(result.evaluatedAt)}`));
  // a multi-platform image: each platform's verdict (the header's is the worst)
  if (result.platforms?.length) {
    const lines = result.platforms.map((pl) => `${VERDICT_EMOJI[pl.status]} ${code(pl.platform)} *${pl.status.toUpperCase()}* · ${escapeMrkdwn(countsLine(pl.counts))}`);
    blocks.push(...packLines(`*Platforms (${result.platforms.length})*`, lines, { maxSections: 1 }));
  }

  if (result.error) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`:rotating_light: *${escapeMrkdwn(result.error.code)}*${result.error.kind ? ` (${escapeMrkdwn(result.error.kind)})` : ''}\n${escapeMrkdwn(result.error.message)}`, SLACK_LIMITS.sectionText) } });
  }

  // New critical/high findings (against the previous result), or the worst ones on a first evaluation.
  const isDelta = result.newFindings !== undefined;
  const source = (isDelta ? result.newFindings : result.topFindings) ?? [];
  const serious = source.filter((f) => f.severity === 'critical' || f.severity === 'high').sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id));
  const max = Math.max(0, opts.maxFindings ?? 15);
  if (serious.length > 0) {
    const shown = serious.slice(0, max);
    const heading = isDelta ? `*New critical/high findings (${serious.length})*` : `*Critical/high findings (${serious.length}${result.topFindings && source.length >= 20 ? '+' : ''})*`;
    blocks.push(...packLines(heading, shown.map(findingLine), { maxSections: 3, hidden: serious.length - shown.length }));
  } else if (isDelta && source.length > 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `${source.length} new findings, none critical or high.` } });
  } else if (isDelta) {
    blocks.push(context('No new findings since the previous result.'));
  }
  if (isDelta && serious.length > 0 && source.length > serious.length) {
    blocks.push(context(`and ${source.length - serious.length} new findings of lower severity`));
  }
  const resolved = result.resolvedFindings ?? [];
  if (resolved.length > 0) {
    const ids = resolved.slice(0, 10).map((r) => code(r.split('|')[0] ?? r));
    blocks.push(context(`:white_check_mark: ${resolved.length} findings resolved since the previous result: ${ids.join(' ')}${resolved.length > 10 ? ` … and ${resolved.length - 10} more` : ''}`));
  }

  const buttons = [button('Full report', opts.reportUrl, 'drydock-report', 'primary'), button('Open in console', opts.consoleUrl, 'drydock-console')].filter((b): b is ButtonElement => Boolean(b));
  if (buttons.length) blocks.push({ type: 'actions', elements: buttons });
  else if (opts.reportUrl) blocks.push(context('The report link was too long for Slack; find it in the bucket under the result id.'));

  const newSerious = isDelta ? ` · new: ${serious.length} critical/high` : '';
  const text = truncate(`${verdict}${was} ${label}: ${countsLine(result.counts)}${newSerious}`, SLACK_LIMITS.fallbackText);
  return { text: escapeMrkdwn(text), blocks: fitBlocks(blocks) };
}

export interface SlackSummaryOptions {
  /** images listed one by one, worst first, before "… and N more" (default 8) */
  maxListed?: number;
  /** a report link per listed result (pre-signed URLs) */
  reportUrl?: (r: ResultMessage) => string | undefined;
  consoleUrl?: string;
}

/** Worst first: fail, error, warn, pass; then by the highest severity, then the critical and high counts. */
export function compareResults(a: ResultMessage, b: ResultMessage): number {
  return (
    STATUS_RANK[b.status] - STATUS_RANK[a.status] ||
    severityRank(b.highestSeverity ?? '') - severityRank(a.highestSeverity ?? '') ||
    (b.counts.critical ?? 0) - (a.counts.critical ?? 0) ||
    (b.counts.high ?? 0) - (a.counts.high ?? 0) ||
    imageLabel(a.image).localeCompare(imageLabel(b.image))
  );
}

/** Many results (one SNS delivery, one feed update) as ONE message: the tally, then the worst few. */
export function slackSummary(results: ResultMessage[], opts: SlackSummaryOptions = {}): SlackPayload {
  const n = results.length;
  const byStatus = (['fail', 'error', 'warn', 'pass'] as const).map((s) => [s, results.filter((r) => r.status === s).length] as const).filter(([, c]) => c > 0);
  const tally = byStatus.map(([s, c]) => `${c} ${s}`).join(', ') || 'nothing';
  const changedVerdict = results.filter((r) => r.previousStatus !== undefined && r.previousStatus !== r.status).length;
  const rescan = n > 0 && results.every((r) => (r.reason ?? '').startsWith('rescan'));
  const when = rescan ? ' after the advisory update' : '';
  const what = changedVerdict === n && n > 0 ? `${n} images changed verdict${when}` : `${n} image results${when}${changedVerdict ? ` (${changedVerdict} changed verdict)` : ''}`;
  const worst = byStatus[0]?.[0] ?? 'pass';
  const headline = `${what}: ${tally}`;

  const blocks: SlackBlock[] = [header(`${VERDICT_EMOJI[worst]} ${headline}`)];
  const newSerious = results.reduce((k, r) => k + (r.newFindings ?? []).filter((f) => f.severity === 'critical' || f.severity === 'high').length, 0);
  const resolved = results.reduce((k, r) => k + (r.resolvedFindings?.length ?? 0), 0);
  const totals: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.counts)) totals[k] = (totals[k] ?? 0) + v;
  blocks.push({
    type: 'section',
    text: { type: 'mrkdwn', text: truncate(`*${escapeMrkdwn(headline)}*\nFindings across these images: ${escapeMrkdwn(countsLine(totals))}\nNew critical/high findings: ${newSerious} · resolved findings: ${resolved}`, SLACK_LIMITS.sectionText) },
  });

  const sorted = [...results].sort(compareResults);
  const max = Math.max(0, opts.maxListed ?? 8);
  const listed = sorted.slice(0, max);
  if (listed.length) blocks.push({ type: 'divider' });
  for (const r of listed) {
    const was = r.previousStatus && r.previousStatus !== r.status ? ` (was ${r.previousStatus})` : '';
    const serious = ((r.newFindings ?? r.topFindings) ?? []).filter((f) => f.severity === 'critical' || f.severity === 'high');
    const worstIds = serious.slice(0, 3).map((f) => escapeMrkdwn(f.id)).join(', ');
    const url = opts.reportUrl?.(r);
    const link = url && url.length < 1500 && /^https?:\/\//i.test(url) ? ` · <${url}|report>` : '';
    const line =
      `${VERDICT_EMOJI[r.status]} *${r.status.toUpperCase()}*${was} ${code(imageLabel(r.image))}` +
      `\n${escapeMrkdwn(countsLine(r.counts))}${worstIds ? ` · ${r.newFindings ? 'new' : 'worst'}: ${worstIds}` : ''}${r.error ? ` · ${escapeMrkdwn(r.error.code)}` : ''}`;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(line, SLACK_LIMITS.sectionText - link.length) + link } });
  }
  if (sorted.length > listed.length) blocks.push(context(`… and ${sorted.length - listed.length} more`));
  const consoleBtn = button('Open in console', opts.consoleUrl, 'drydock-console');
  if (consoleBtn) blocks.push({ type: 'actions', elements: [consoleBtn] });
  const worstNames = listed.slice(0, 3).map((r) => `${imageLabel(r.image)} ${r.status}`).join('; ');
  return { text: escapeMrkdwn(truncate(`${headline}${worstNames ? ` — ${worstNames}` : ''}`, SLACK_LIMITS.fallbackText)), blocks: fitBlocks(blocks) };
}

/** At most 50 blocks: the tail is cut and replaced by one "… and N more" line (the actions kept). */
export function fitBlocks(blocks: SlackBlock[]): SlackBlock[] {
  if (blocks.length <= SLACK_LIMITS.blocks) return blocks;
  const last = blocks[blocks.length - 1]!;
  const keepActions = last.type === 'actions';
  const room = SLACK_LIMITS.blocks - 1 - (keepActions ? 1 : 0);
  const body = blocks.slice(0, keepActions ? -1 : undefined);
  const cut = body.length - room;
  return [...body.slice(0, room), context(`… and ${cut} more`), ...(keepActions ? [last] : [])];
}

/**
 * A console link for a result from a template: {registry}, {repository}, {digest}, {tag},
 * {resultId} are replaced (URL-encoded; {repository} keeps its slashes). No placeholder: the
 * template as it is.
 */
export function consoleUrlFor(template: string | undefined, r: ResultMessage): string | undefined {
  if (!template) return undefined;
  const values: Record<string, string> = {
    registry: encodeURIComponent(r.image.registry),
    repository: r.image.repository.split('/').map(encodeURIComponent).join('/'),
    digest: encodeURIComponent(r.image.digest),
    tag: encodeURIComponent(r.image.tags[0] ?? ''),
    resultId: encodeURIComponent(r.resultId),
  };
  return template.replace(/\{(registry|repository|digest|tag|resultId)\}/g, (_, k: string) => values[k] ?? '');
}
