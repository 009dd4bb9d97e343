import { StoreUnavailableError } from '../../server/executions/types.ts';
import type { Store } from '../../server/store/store.ts';

/** `store` with every call failing while `down()` is true (a node cut off from its database). */
export function cutOff(store: Store, down: () => boolean): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'close' || key === 'migrate') return value;
      return (...args: unknown[]) => (down() ? Promise.reject(new StoreUnavailableError(new Error('cut off'))) : value.apply(target, args));
    },
  });
}
