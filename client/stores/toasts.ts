import { acceptHMRUpdate, defineStore } from 'pinia';
import { ref } from 'vue';

export type ToastTone = 'info' | 'success' | 'warning' | 'error';

export interface Toast {
  id: number;
  tone: ToastTone;
  title: string;
  message?: string;
}

const DEFAULT_TIMEOUT_MS = 6_000;
const ERROR_TIMEOUT_MS = 10_000;
const MAX_TOASTS = 5;

/** Short messages in the corner: finished, failed and cancelled work, and errors of actions. */
export const useToastsStore = defineStore('toasts', () => {
  const toasts = ref<Toast[]>([]);
  const timers = new Map<number, ReturnType<typeof setTimeout>>();
  let nextId = 1;

  function push(toast: Omit<Toast, 'id'>, timeoutMs?: number): number {
    const id = nextId++;
    toasts.value = [...toasts.value, { ...toast, id }].slice(-MAX_TOASTS);
    const timeout = timeoutMs ?? (toast.tone === 'error' ? ERROR_TIMEOUT_MS : DEFAULT_TIMEOUT_MS);
    if (timeout > 0) timers.set(id, setTimeout(() => dismiss(id), timeout));
    return id;
  }

  function dismiss(id: number): void {
    const timer = timers.get(id);
    if (timer) clearTimeout(timer);
    timers.delete(id);
    toasts.value = toasts.value.filter((toast) => toast.id !== id);
  }

  function clear(): void {
    for (const id of [...timers.keys()]) dismiss(id);
    toasts.value = [];
  }

  return { toasts, push, dismiss, clear };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useToastsStore, import.meta.hot));
