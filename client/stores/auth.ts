import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref } from 'vue';

/** sessionStorage key of the API token: kept for this tab's session, gone when the tab closes. */
export const TOKEN_STORAGE_KEY = 'sluice.apiToken';

/** The browser's sessionStorage, or null (Node, or storage blocked by the browser's settings). */
function storage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}

/**
 * The API token of this tab. A credential, not state about what is running: it lives in
 * sessionStorage (this tab, until "Sign out" or the tab closes), never in localStorage. When the
 * server asks for a token (HTTP UNAUTHENTICATED or a socket closed with 4401) `prompting` turns on
 * and the app shows the "API token required" dialog; with no tokens configured it never does.
 */
export const useAuthStore = defineStore('auth', () => {
  const token = ref<string | null>(storage()?.getItem(TOKEN_STORAGE_KEY) || null);
  /** The server asked for a token: the dialog is open. */
  const prompting = ref(false);
  /** Why the last token was refused (the server's message), shown in the dialog. */
  const refusal = ref<string | null>(null);

  const signedIn = computed(() => token.value !== null);

  /** The Authorization value for requests and connectionParams, or undefined without a token. */
  function authorization(): string | undefined {
    return token.value ? `Bearer ${token.value}` : undefined;
  }

  /**
   * The server refused a request or socket for want of a valid token; `sent` is the Authorization
   * it carried. Without a token this asks for one; when the current token was refused, it is
   * dropped and the server's message is shown. A late refusal of something sent with another
   * value (before the current token was accepted) changes nothing.
   */
  function demand(message: string, sent: string | undefined): void {
    if (sent !== authorization()) return;
    if (token.value !== null) {
      refusal.value = message;
      setToken(null);
    }
    prompting.value = true;
  }

  /** A token the server accepted: kept for the session, the dialog closes. */
  function accept(value: string): void {
    setToken(value);
    refusal.value = null;
    prompting.value = false;
  }

  /** The token the user typed was refused: keep asking, with the server's reason. */
  function refuse(message: string): void {
    refusal.value = message;
    prompting.value = true;
  }

  /** Forgets the token (and the dialog's state); the next request decides whether one is needed. */
  function signOut(): void {
    setToken(null);
    refusal.value = null;
    prompting.value = false;
  }

  function setToken(value: string | null): void {
    token.value = value;
    const store = storage();
    try {
      if (value === null) store?.removeItem(TOKEN_STORAGE_KEY);
      else store?.setItem(TOKEN_STORAGE_KEY, value);
    } catch {
      // Storage full or blocked: the token still works for this page's life.
    }
  }

  return { token, prompting, refusal, signedIn, authorization, demand, accept, refuse, signOut };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useAuthStore, import.meta.hot));
