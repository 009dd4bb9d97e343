import { onScopeDispose, toValue, watch, type MaybeRefOrGetter } from 'vue';
import { useExecutionsStore } from '../stores/executions.ts';

/**
 * Follows the live progress of the execution `id` (when it is not null) for as long as the calling
 * component is mounted, so only what is on screen is subscribed to.
 */
export function useLiveExecution(id: MaybeRefOrGetter<string | null | undefined>): void {
  const executions = useExecutionsStore();
  let release: (() => void) | null = null;
  watch(
    () => toValue(id),
    (now) => {
      release?.();
      release = now ? executions.watchLive(now) : null;
    },
    { immediate: true },
  );
  onScopeDispose(() => release?.());
}
