/** Counts holders per key: `onFirst` runs when a key gets its first holder, `onLast` when its last one lets go. */
export function refCounter(onFirst: (key: string) => void, onLast: (key: string) => void) {
  const counts = new Map<string, number>();
  return {
    has: (key: string): boolean => counts.has(key),
    /** Holds `key`; returns the release (calling it twice releases once). */
    hold(key: string): () => void {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      onFirst(key);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(key) ?? 1) - 1;
        if (left > 0) counts.set(key, left);
        else {
          counts.delete(key);
          onLast(key);
        }
      };
    },
  };
}
