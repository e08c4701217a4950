/**
 * The event-pattern matcher against the examples of AWS's EventBridge documentation
 * ("Comparison operators for use in event patterns", "Content filtering in Amazon EventBridge
 * event patterns"), and SNS filter policies on message attributes.
 */
import { describe, expect, it } from 'vitest';
import { EventPatternError, matchesFilterPolicy, matchesPattern, wildcard } from './event-pattern.js';

/** The EC2 instance state-change example event of the documentation. */
const ec2 = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated', 'c-count': 5, 'd-count': 3, 'x-limit': 301.8, 'source-ip': '10.0.0.123', FileName: 'image.png' },
};
const detail = (d: Record<string, unknown>) => ({ ...ec2, detail: { ...ec2.detail, ...d } });

describe('EventBridge event patterns (documentation examples)', () => {
  it('exact values, AND across fields, arrays as alternatives, arrays in the event', () => {
    expect(matchesPattern({ source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] }, ec2)).toBe(true);
    expect(matchesPattern({ source: ['aws.ec2'], detail: { state: ['running', 'terminated'] } }, ec2)).toBe(true);
    expect(matchesPattern({ source: ['aws.ec2'], detail: { state: ['running'] } }, ec2)).toBe(false);
    expect(matchesPattern({ resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'] }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { missing: ['x'] } }, ec2)).toBe(false);
    // numbers are compared by value; null and "" are values of their own
    expect(matchesPattern({ detail: { 'c-count': [5.0] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { n: [null] } }, detail({ n: null }))).toBe(true);
    expect(matchesPattern({ detail: { n: [null] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { LastName: [''] } }, detail({ LastName: '' }))).toBe(true);
    expect(matchesPattern({ detail: { LastName: [''] } }, detail({ LastName: 'x' }))).toBe(false);
  });

  it('prefix and suffix, also ignoring case', () => {
    expect(matchesPattern({ time: [{ prefix: '2017-12-22' }] }, ec2)).toBe(true);
    expect(matchesPattern({ time: [{ prefix: '2017-10-02' }] }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } }, detail({ service: 'eventbridge' }))).toBe(true);
    expect(matchesPattern({ detail: { FileName: [{ suffix: '.png' }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { FileName: [{ suffix: '.png' }] } }, detail({ FileName: 'a.PNG' }))).toBe(false);
    expect(matchesPattern({ detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, detail({ FileName: 'a.PNG' }))).toBe(true);
    expect(matchesPattern({ detail: { 'c-count': [{ prefix: '5' }] } }, ec2)).toBe(false);
  });

  it('anything-but: a value, a number, a list, prefix, suffix, equals-ignore-case, wildcard; never a missing field', () => {
    expect(matchesPattern({ detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { state: [{ 'anything-but': 'terminated' }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { 'x-limit': [{ 'anything-but': 123 }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { state: [{ 'anything-but': ['stopped', 'terminated'] }] } }, ec2)).toBe(false);
    expect(matchesPattern({ region: [{ 'anything-but': { prefix: 'us-' } }] }, ec2)).toBe(false);
    expect(matchesPattern({ region: [{ 'anything-but': { prefix: 'us-' } }] }, { ...ec2, region: 'eu-west-1' })).toBe(true);
    expect(matchesPattern({ detail: { FileName: [{ 'anything-but': { suffix: '.png' } }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'TERMINATED' } }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['stopped', 'Running'] } }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, detail({ FilePath: 'a/lib/b' }))).toBe(false);
    expect(matchesPattern({ detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, detail({ FilePath: 'a/src/b' }))).toBe(true);
    expect(matchesPattern({ detail: { nothing: [{ 'anything-but': 'x' }] } }, ec2)).toBe(false);
  });

  it('numeric ranges, equals-ignore-case, wildcard, cidr, exists', () => {
    expect(matchesPattern({ detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ numeric: ['=', 3.018e2] }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'c-count': [{ numeric: ['>', 5] }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { 'c-count': [{ numeric: ['>', 0] }] } }, detail({ 'c-count': '5' }))).toBe(false);
    expect(matchesPattern({ 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] } }, detail({ EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/myEventBus' }))).toBe(true);
    expect(matchesPattern({ detail: { FileName: [{ wildcard: 'dir/*.png' }] } }, detail({ FileName: 'dir/sub/a.png' }))).toBe(true);
    expect(matchesPattern({ detail: { FileName: [{ wildcard: 'dir/*.png' }] } }, detail({ FileName: 'other/a.png' }))).toBe(false);
    expect(wildcard('a\\*b', 'a*b')).toBe(true);
    expect(wildcard('a\\*b', 'axb')).toBe(false);
    expect(matchesPattern({ detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { state: [{ exists: true }] } }, ec2)).toBe(true);
    expect(matchesPattern({ detail: { state: [{ exists: false }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { gone: [{ exists: false }] } }, ec2)).toBe(true);
    expect(matchesPattern({ nothing: { deeper: [{ exists: false }] } }, ec2)).toBe(true);
  });

  it('$or at the top and nested levels', () => {
    const p = { source: ['aws.ec2'], $or: [{ 'detail-type': ['nope'] }, { detail: { 'c-count': [{ numeric: ['>', 1] }] } }] };
    expect(matchesPattern(p, ec2)).toBe(true);
    expect(matchesPattern({ detail: { $or: [{ 'c-count': [{ numeric: ['>', 10] }] }, { 'd-count': [{ numeric: ['<', 1] }] }] } }, ec2)).toBe(false);
    expect(matchesPattern({ detail: { $or: [{ 'c-count': [{ numeric: ['>', 10] }] }, { 'x-limit': [{ 'anything-but': [100] }] }] } }, ec2)).toBe(true);
  });

  it('refuses what EventBridge refuses: scalar leaves, empty lists, unknown operators', () => {
    expect(() => matchesPattern({ source: 'aws.ec2' }, ec2)).toThrow(EventPatternError);
    expect(() => matchesPattern({ source: [] }, ec2)).toThrow(/empty list/);
    expect(() => matchesPattern({ source: [{ contains: 'ec2' }] }, ec2)).toThrow(/not known/);
    expect(() => matchesPattern({ detail: { n: [{ numeric: ['!=', 1] }] } }, detail({ n: 1 }))).toThrow(/unknown comparison/);
  });
});

describe('SNS filter policies on message attributes', () => {
  const attrs = { status: { type: 'String', value: 'warn' }, count: { type: 'Number', value: '3' }, tags: { type: 'String.Array', value: '["a","b"]' } };
  it('matches strings, numbers and string arrays as SNS does', () => {
    expect(matchesFilterPolicy({ status: ['fail', 'warn', 'error'] }, attrs)).toBe(true);
    expect(matchesFilterPolicy({ status: ['fail'] }, attrs)).toBe(false);
    expect(matchesFilterPolicy({ count: [{ numeric: ['>=', 3] }] }, attrs)).toBe(true);
    expect(matchesFilterPolicy({ tags: ['b'] }, attrs)).toBe(true);
    expect(matchesFilterPolicy({ other: [{ exists: false }] }, attrs)).toBe(true);
    expect(matchesFilterPolicy({ status: ['warn'] }, {})).toBe(false);
  });
});
