// Types of scripts/esbuild-patches.mjs (plain JavaScript: scripts/bundle.mjs runs without a TypeScript loader).
import type { Plugin } from 'esbuild';

export interface SourcePatch {
  /** what it does, in the build's errors */
  name: string;
  /** the package the patched file belongs to: a bundle holding any of it must have had the patch */
  pkg: RegExp;
  /** the file rewritten */
  file: RegExp;
  /** each `expected` text must occur exactly once, and is replaced */
  edits: { expected: string; replacement: string }[];
}

export const PACKAGEURL_COLLATOR: SourcePatch;
export const FFLATE_WORKER_THREADS: SourcePatch;
export const SPDX_CORRECT_SORT: SourcePatch;
export const PATCHES: SourcePatch[];
export function applyPatch(patch: SourcePatch, source: string, path: string): string;
export function patchPlugin(patches?: SourcePatch[]): Plugin;
export const BANNER: string;
export function trimBanner(text: string): string;
