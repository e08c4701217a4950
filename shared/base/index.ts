export * from './types.js';
export * from './list.js';
export * from './identify.js';
export * from './layers.js';
export * from './split.js';
export * from './advice.js';
export { baseImageGate } from './gate.js';
