/**
 * The notifier's AWS readers: the webhook secret from Secrets Manager, report links pre-signed
 * by S3.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DrydockError } from '../../errors.js';
import type { Presigner, SecretReader } from '../../notify/notifier.js';

export function secretsManagerReader(client = new SecretsManagerClient({})): SecretReader {
  return async (arn) => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    if (out.SecretString !== undefined) return out.SecretString;
    if (out.SecretBinary) return Buffer.from(out.SecretBinary).toString('utf8');
    throw new DrydockError('CONFIG', `the secret ${arn} has no value`);
  };
}

export function s3Presigner(client = new S3Client(process.env.DRYDOCK_S3_FORCE_PATH_STYLE === '1' ? { forcePathStyle: true } : {})): Presigner {
  // The HTML report opens in the browser (not as a download), whatever type it was stored with.
  return (bucket, key, ttlSeconds) =>
    getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key, ResponseContentType: 'text/html; charset=utf-8', ResponseContentDisposition: 'inline' }), { expiresIn: ttlSeconds });
}

