/** The DynamoDB adapters of the store ports; each takes a DynamoDBDocumentClient and its table name (tables.ts). */
export { DynamoImageStore } from './image-store.js';
export { DynamoPackageIndex, type DynamoPackageIndexOptions } from './package-index.js';
export { DynamoResultStore } from './result-store.js';
export { DynamoAdvisoryStore, ADVISORY_ITEM_LIMIT, type DynamoAdvisoryStoreOptions } from './advisory-store.js';
export { type BatchOptions } from './batch.js';
