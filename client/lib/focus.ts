/**
 * Where focus goes when the control that had it is about to disappear (a Stop that becomes
 * "Stopping…", a dismissed card, a deleted row): the nearest element marked
 * `data-focus-fallback` around it (made focusable), else the page's main heading.
 */
export function moveFocusFrom(control: Element | null, to?: HTMLElement | null): void {
  if (!control || document.activeElement !== control) return;
  focusElement(
    to ?? control.parentElement?.closest<HTMLElement>('[data-focus-fallback]') ?? document.querySelector<HTMLElement>('main h1'),
  );
}

/** Focuses an element, made focusable by script when it is not (a heading). */
export function focusElement(target: HTMLElement | null): void {
  if (!target) return;
  if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
  target.focus();
}

/** After a route change: focus the new view's main heading, so a screen reader starts there. */
export function focusMainHeading(): void {
  focusElement(document.querySelector<HTMLElement>('main h1'));
}
