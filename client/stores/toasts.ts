import { acceptHMRUpdate, defineStore } from 'pinia';
import { ref } from 'vue';
import { readSettings } from '../lib/settings.ts';

export type ToastTone = 'info' | 'success' | 'warning' | 'error';

export interface Toast {
  id: number;
  tone: ToastTone;
  title: string;
  message?: string;
  /** An address in the app the toast is about (an execution's page): shown as an Open link. */
  link?: string;
}

const MAX_TOASTS = 5;

/** Short messages in the corner: finished, failed and cancelled work, and errors of actions. */
export const useToastsStore = defineStore('toasts', () => {
  const toasts = ref<Toast[]>([]);
  /** Each toast's time left, and its timer while the clock runs (not while the stack is hovered or focused). */
  const timers = new Map<number, { left: number; since: number; timer: ReturnType<typeof setTimeout> | null }>();
  const paused = ref(false);
  let nextId = 1;

  function run(id: number): void {
    const entry = timers.get(id);
    if (!entry || paused.value) return;
    entry.since = Date.now();
    entry.timer = setTimeout(() => dismiss(id), entry.left);
  }

  function push(toast: Omit<Toast, 'id'>, timeoutMs?: number): number {
    const id = nextId++;
    toasts.value = [...toasts.value, { ...toast, id }].slice(-MAX_TOASTS);
    const settings = readSettings();
    const timeout = timeoutMs ?? (toast.tone === 'error' ? settings.errorToastMs : settings.toastMs);
    if (timeout > 0) {
      timers.set(id, { left: timeout, since: Date.now(), timer: null });
      run(id);
    }
    return id;
  }

  function dismiss(id: number): void {
    const entry = timers.get(id);
    if (entry?.timer) clearTimeout(entry.timer);
    timers.delete(id);
    toasts.value = toasts.value.filter((toast) => toast.id !== id);
  }

  /** A person is reading or using the toasts (pointer over them, focus in them): they stay. */
  function pause(): void {
    if (paused.value) return;
    paused.value = true;
    for (const entry of timers.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = null;
      entry.left = Math.max(1_000, entry.left - (Date.now() - entry.since));
    }
  }

  /** The clock of each toast runs on with the time it had left. */
  function resume(): void {
    if (!paused.value) return;
    paused.value = false;
    for (const id of timers.keys()) run(id);
  }

  function clear(): void {
    for (const id of [...timers.keys()]) dismiss(id);
    toasts.value = [];
  }

  return { toasts, paused, push, dismiss, clear, pause, resume };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useToastsStore, import.meta.hot));
