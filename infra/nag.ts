/**
 * cdk-nag (AwsSolutions) glue: IAM statements whose wildcards are acknowledged where they are
 * made, with the finding id cdk-nag prints, and never anywhere else.
 *
 * cdk-nag 3 reports one finding per wildcard, `AwsSolutions-IAM5[Resource::<flattened ARN>]`,
 * where the ARN is flattened the way its `flattenCfnReference` does it (`Fn::GetAtt` →
 * `<LogicalId.Attr>`, `Ref` → `<LogicalId>`, `Fn::Join` joined, `${X}` → `<X>`). `allow()`
 * computes the same string, so an acknowledgement names exactly the wildcard it is about; a
 * wildcard without a reason is refused at synth time, before cdk-nag would even see it.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/** cdk-nag's flattening of a resolved CloudFormation value (see the module comment). */
export function flattenCfnReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const o = node as Record<string, unknown>;
  if (o['Fn::Join']) {
    const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
    return items.map(flattenCfnReference).join(delimiter);
  }
  if (o['Fn::Sub']) return flattenCfnReference(o['Fn::Sub']);
  if (o['Fn::GetAtt']) {
    const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenCfnReference(resource)}.${flattenCfnReference(attribute)}>`;
  }
  if (o['Fn::ImportValue']) return flattenCfnReference(o['Fn::ImportValue']);
  if (o.Ref) return `<${flattenCfnReference(o.Ref)}>`;
  return JSON.stringify(node);
}

export interface AllowOptions {
  /** required when a resource holds a `*`: why nothing narrower can be named (becomes the cdk-nag acknowledgement) */
  wildcardReason?: string;
  conditions?: Record<string, Record<string, unknown>>;
}

/**
 * Adds one Allow statement to the role's policy. Actions never hold wildcards; a resource with a
 * `*` needs `wildcardReason`, which acknowledges exactly that finding on this role.
 */
export function allow(role: iam.IRole & IConstruct, sid: string, actions: string[], resources: string[], opts: AllowOptions = {}): iam.PolicyStatement {
  for (const a of actions) if (a.includes('*')) throw new Error(`${role.node.path} ${sid}: wildcard action ${a}; name the actions`);
  const stack = Stack.of(role);
  for (const r of resources) {
    const flat = flattenCfnReference(stack.resolve(r));
    if (!flat.includes('*')) continue;
    if (!opts.wildcardReason) throw new Error(`${role.node.path} ${sid}: resource ${flat} holds a wildcard and no reason was given`);
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason: opts.wildcardReason });
  }
  const statement = new iam.PolicyStatement({ sid, actions, resources, ...(opts.conditions ? { conditions: opts.conditions } : {}) });
  role.addToPrincipalPolicy(statement);
  return statement;
}
