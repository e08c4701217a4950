import type { ImageInventory } from '../scan.js';

export const JSON_SCHEMA_ID = 'drydock.scan/v1';

/** The machine-readable result: stable field names, one entry per scanned platform image. */
export function renderJson(results: ImageInventory[], tool: { name: string; version: string }, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ schema: JSON_SCHEMA_ID, tool, ...extra, results }, null, 2)}\n`;
}
