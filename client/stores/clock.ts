import { acceptHMRUpdate, defineStore } from 'pinia';
import { ref } from 'vue';

/** A clock that ticks once a second while something shows a running time, and sleeps otherwise. */
export const useClockStore = defineStore('clock', () => {
  const now = ref(Date.now());
  let timer: ReturnType<typeof setInterval> | null = null;

  function setTicking(on: boolean): void {
    now.value = Date.now();
    if (on && !timer) timer = setInterval(() => (now.value = Date.now()), 1_000);
    if (!on && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  return { now, setTicking };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useClockStore, import.meta.hot));
