import { acceptHMRUpdate, defineStore } from 'pinia';
import { ref } from 'vue';

export type NotificationPermissionState = NotificationPermission | 'unsupported';

function currentPermission(): NotificationPermissionState {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

/**
 * Optional browser notifications. Permission is asked for only when the user presses the button,
 * never on load; a notification is shown only while the tab is in the background.
 */
export const useNotificationsStore = defineStore('notifications', () => {
  const permission = ref<NotificationPermissionState>(currentPermission());

  async function request(): Promise<void> {
    if (permission.value === 'unsupported') return;
    permission.value = await Notification.requestPermission();
  }

  function notify(title: string, body: string): void {
    if (permission.value !== 'granted') return;
    if (typeof document === 'undefined' || !document.hidden) return;
    const notification = new Notification(title, { body, tag: `sluice:${title}` });
    notification.onclick = () => {
      window.focus();
      notification.close();
    };
  }

  return { permission, request, notify };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useNotificationsStore, import.meta.hot));
