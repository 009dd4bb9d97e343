/** Progress of an execution, as the contract's Progress type. */
export interface Progress {
  percent: number | null;
  stage: string;
  message: string | null;
  pagesDiscovered: number;
  pagesFetched: number;
  pagesFailed: number;
  pagesSkipped: number;
  bytesFetched: number;
  chunksStored: number;
}

export type ProgressPatch = Partial<Progress>;

const COUNTERS = [
  'pagesDiscovered',
  'pagesFetched',
  'pagesFailed',
  'pagesSkipped',
  'bytesFetched',
  'chunksStored',
] as const;

export function initialProgress(): Progress {
  return {
    percent: null,
    stage: 'queued',
    message: null,
    pagesDiscovered: 0,
    pagesFetched: 0,
    pagesFailed: 0,
    pagesSkipped: 0,
    bytesFetched: 0,
    chunksStored: 0,
  };
}

/**
 * Applies a patch so that progress stays monotonic: percent and counters never go down, whatever
 * order (or whichever attempt) the patches come from. Both stores call this inside the transaction
 * that writes the row.
 */
export function mergeProgress(current: Progress, patch: ProgressPatch): Progress {
  const next: Progress = { ...current };
  if (patch.stage !== undefined) next.stage = patch.stage;
  if (patch.message !== undefined) next.message = patch.message;
  if (patch.percent !== undefined && patch.percent !== null) {
    const clamped = Math.min(100, Math.max(0, patch.percent));
    next.percent = current.percent === null ? clamped : Math.max(current.percent, clamped);
  }
  for (const key of COUNTERS) {
    const value = patch[key];
    if (value !== undefined) next[key] = Math.max(current[key], value);
  }
  return next;
}

/** Combines two patches (the later wins, numbers never go down), for coalescing before a write. */
export function combinePatches(earlier: ProgressPatch, later: ProgressPatch): ProgressPatch {
  const out: Record<string, unknown> = { ...earlier };
  for (const [key, value] of Object.entries(later)) {
    const before = out[key];
    out[key] = typeof value === 'number' && typeof before === 'number' ? Math.max(before, value) : value;
  }
  return out as ProgressPatch;
}
