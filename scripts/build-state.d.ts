// Types of build-state.js, for the TypeScript tests and benchmarks that read it.
export type PartName = 'server' | 'cli' | 'client';
export const ROOT: string;
export const PARTS: Record<PartName, { inputs: string[]; outputs: string[] }>;
export function partState(name: PartName): 'missing' | 'stale' | 'fresh';
export function canBuild(name: PartName): boolean;
