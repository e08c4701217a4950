/**
 * The catalogers' share of the scan's budget (issue 14): how deep and how long the
 * structures they walk may be. Each is named in the issue a file gets when it goes over,
 * so a report says which bound tripped. No real image comes near them.
 */
export { MAX_JSON_DEPTH } from './json.js';

/** node_modules directories nested in one another (node_modules/a/node_modules/b/… ) read as installed packages. */
export const MAX_NODE_MODULES_DEPTH = 128;
/** Levels of a package-lock v1 `dependencies` tree read; entries below are not read. */
export const MAX_LOCK_TREE_DEPTH = 128;
/** Longest path (install path, apk directory + file name) a cataloger builds; Linux's PATH_MAX. */
export const MAX_PATH_LENGTH = 4096;
/** A cataloger that fails on this many files in one view gives up on the view (one issue). */
export const MAX_FAILED_FILES = 8;
