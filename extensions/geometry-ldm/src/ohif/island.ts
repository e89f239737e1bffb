/**
 * React "islands": OHIF renders panel components with its own React, which it
 * does not expose; the extension bundles its own React 18. A panel is handed
 * to OHIF as a tiny host component that renders one custom element
 * (`<geometry-ldm-panel data-panel="...">`); the element, once connected,
 * adopts a container holding the panel's own React root.
 *
 * Why a custom element: its lifecycle is plain DOM, so nothing depends on the
 * host React's hooks, refs or internals. The only thing shared with the host
 * is the element object the host component returns, created by our React 18
 * (`Symbol.for('react.element')`, the format of OHIF 3.x's React 18).
 *
 * The container and its root outlive the element (OHIF's side panel unmounts
 * inactive tabs): switching tabs keeps form values and a running job's
 * progress. `unmountIslands()` (mode exit) releases them.
 *
 * Keyboard: Enter and Space on the panel's buttons are kept from OHIF's
 * hotkeys (see keepActivationKeys), so the panels work by keyboard.
 */
import { Component, createElement, type ComponentType, type ErrorInfo, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { ISLAND_TAG } from './ids';

/** What OHIF's PanelService / SidePanel render: a function of props returning a React element. */
export type HostComponent = ((props: Record<string, unknown>) => unknown) & { displayName?: string };

interface Island {
  readonly container: HTMLDivElement;
  readonly root: Root;
  component: ComponentType;
}

const registered = new Map<string, ComponentType>();
const islands = new Map<string, Island>();

const HOST_STYLE = {
  display: 'flex',
  flexDirection: 'column',
  flex: '1 1 auto',
  minHeight: 0,
  height: '100%',
  overflow: 'hidden',
} as const;

interface BoundaryState {
  error: Error | null;
}

/** Keeps a panel's render error inside the panel, in plain words, instead of blanking it. */
class PanelErrorBoundary extends Component<{ name: string; children?: ReactNode }, BoundaryState> {
  override state: BoundaryState = { error: null };

  static getDerivedStateFromError(error: Error): BoundaryState {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`geometry-ldm panel "${this.props.name}" failed`, error, info.componentStack);
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return createElement(
      'div',
      { role: 'alert', className: 'p-2 text-sm text-red-500' },
      `This panel stopped working: ${error.message}. Reload the page to try again.`,
    );
  }
}

/**
 * OHIF's hotkeys (Mousetrap on `document`) bind Enter ("acceptPreview") and
 * prevent its default, which would stop Enter from pressing a focused panel
 * button (Mousetrap ignores text fields, not buttons). Enter and Space on the
 * panel's own buttons, disclosures and checkboxes therefore stay in the
 * panel: they do not bubble past the island container to OHIF's listener.
 * Every other key still reaches OHIF's hotkeys.
 */
const ACTIVATABLE = 'button, summary, a[href], [role="button"], input[type="checkbox"], input[type="radio"]';

export function keepActivationKeys(e: Pick<KeyboardEvent, 'key' | 'target' | 'stopPropagation'>): void {
  if (e.key !== 'Enter' && e.key !== ' ') return;
  const target = e.target as { closest?: (selector: string) => unknown } | null;
  if (typeof target?.closest === 'function' && target.closest(ACTIVATABLE)) e.stopPropagation();
}

function renderIsland(name: string, island: Island): void {
  island.root.render(createElement(PanelErrorBoundary, { name }, createElement(island.component)));
}

/** Moves the panel's container (creating it and its root on first use) into a connected host element. */
function adopt(host: HTMLElement): void {
  const name = host.getAttribute('data-panel') ?? '';
  const component = registered.get(name);
  if (!component) {
    host.textContent = `Unknown geometry-ldm panel "${name}".`;
    return;
  }
  let island = islands.get(name);
  if (!island) {
    const container = document.createElement('div');
    container.className = 'geometry-ldm-island';
    Object.assign(container.style, { flex: '1 1 auto', minHeight: '0', overflowY: 'auto' });
    container.addEventListener('keydown', keepActivationKeys);
    island = { container, root: createRoot(container), component };
    islands.set(name, island);
    renderIsland(name, island);
  } else if (island.component !== component) {
    island.component = component;
    renderIsland(name, island);
  }
  if (island.container.parentNode !== host) host.appendChild(island.container);
}

/** Defines the custom element once per page (no-op outside a browser). */
export function defineIslandElement(): void {
  if (typeof customElements === 'undefined' || customElements.get(ISLAND_TAG)) return;
  customElements.define(
    ISLAND_TAG,
    class GeometryLdmPanelElement extends HTMLElement {
      connectedCallback(): void {
        adopt(this);
      }
    },
  );
}

/**
 * Registers `component` (rendered by the extension's React) under `name` and
 * returns the component to give OHIF.
 */
export function islandComponent(name: string, component: ComponentType): HostComponent {
  registered.set(name, component);
  const host: HostComponent = () => createElement(ISLAND_TAG, { 'data-panel': name, style: HOST_STYLE });
  host.displayName = `GeometryLdmIsland(${name})`;
  return host;
}

/** Unmounts every island root (their effects clean up); the next render starts fresh. */
export function unmountIslands(): void {
  for (const island of islands.values()) {
    island.root.unmount();
    island.container.remove();
  }
  islands.clear();
}

/** Names of islands whose React root is alive (for tests and diagnostics). */
export function liveIslands(): string[] {
  return [...islands.keys()];
}
