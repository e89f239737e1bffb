/**
 * Enter and Space on the panels' own buttons must not reach OHIF's hotkeys
 * (Mousetrap on `document` binds Enter and prevents its default, which
 * would keep a focused button from being pressed). The real behaviour in the
 * viewer is checked by the keyboard step of test/viewer/panels.test.ts.
 */
import { keepActivationKeys } from './island';

/** A target whose `closest` answers like an element of the given tag/type would. */
function target(tag: string, type?: string) {
  return {
    closest(selector: string): unknown {
      const parts = selector.split(',').map((s) => s.trim());
      const match = parts.some((p) => p === tag || (type !== undefined && p === `${tag}[type="${type}"]`));
      return match ? this : null;
    },
  };
}

function press(key: string, t: unknown): boolean {
  let stopped = false;
  keepActivationKeys({ key, target: t as EventTarget, stopPropagation: () => (stopped = true) });
  return stopped;
}

describe('activation keys stay in the panel', () => {
  it('Enter and Space on buttons, disclosures and checkboxes', () => {
    for (const key of ['Enter', ' ']) {
      expect(press(key, target('button'))).toBe(true);
      expect(press(key, target('summary'))).toBe(true);
      expect(press(key, target('input', 'checkbox'))).toBe(true);
    }
  });

  it('other keys, and Enter in text and number fields, still reach OHIF', () => {
    expect(press('z', target('button'))).toBe(false);
    expect(press('ArrowDown', target('button'))).toBe(false);
    expect(press('Enter', target('input', 'number'))).toBe(false);
    expect(press('Enter', target('select'))).toBe(false);
    expect(press('Enter', null)).toBe(false);
  });
});
