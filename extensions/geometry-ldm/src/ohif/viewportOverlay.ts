/**
 * "AI-generated — NOT FOR DIAGNOSTIC USE" over every viewport that shows an
 * image this product wrote (a super-resolved series, its uncertainty map, a
 * synthetic study), whatever the mode and however narrow the viewport.
 *
 * OHIF 3.13's cornerstone viewport overlay is built from the customizations
 * `viewportOverlay.topLeft|topRight|bottomLeft|bottomRight` (lists of items
 * with `condition(props)` and `contentF(props)`); the extension prepends one
 * item to the top-left list in the mode scope on every mode entry
 * (`onModeEnter`; OHIF resets the mode scope first, so it is added once).
 * The series description OHIF shows there is cut with an ellipsis at 40 % of
 * the viewport width ("AI super-resolution ... - NOT …"): this item is a block
 * of its own whose words wrap instead of being cut.
 *
 * Which images: those whose DICOM says this product made them, as written by
 * src/dicom (writeDerivedSeries, writeSyntheticStudy): Manufacturer or a
 * ContributingEquipmentSequence item with Manufacturer "geometry-ldm", or
 * "NOT FOR DIAGNOSTIC USE" in ImageComments or SeriesDescription.
 *
 * A second item, right under it, says "Unsaved result — not stored in the
 * PACS" over a viewport showing a series the panels show from memory before it
 * is saved (localSeries.ts); it goes once the stored copy replaces it.
 */
import { createElement, type ReactElement } from 'react';
import { NOT_FOR_DIAGNOSTIC_USE, PRODUCT_MANUFACTURER } from '../dicom/ctImage';
import { isUnsavedSeries } from './localSeries';

export const OVERLAY_CUSTOMIZATION = 'viewportOverlay.topLeft';
export const OVERLAY_ITEM_ID = 'geometryLdm.notForDiagnosticUse';
export const OVERLAY_TEST_ID = 'geometry-ldm-viewport-ndu';
export const OVERLAY_TEXT = `AI-generated — ${NOT_FOR_DIAGNOSTIC_USE}`;
export const UNSAVED_ITEM_ID = 'geometryLdm.unsaved';
export const UNSAVED_TEST_ID = 'geometry-ldm-viewport-unsaved';
export const UNSAVED_TEXT = 'Unsaved result — not stored in the PACS';

type Naturalized = Record<string, unknown>;

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(text).join('\\');
  return '';
}

function items(v: unknown): Naturalized[] {
  if (Array.isArray(v)) return v.filter((x): x is Naturalized => !!x && typeof x === 'object');
  return v && typeof v === 'object' ? [v as Naturalized] : [];
}

const MARK = new RegExp(NOT_FOR_DIAGNOSTIC_USE.replace(/ /g, '\\s+'), 'i');

/** True for instance metadata (naturalized, as OHIF keeps it) of an image this product wrote. */
export function isProductImage(instance: Naturalized | null | undefined): boolean {
  if (!instance) return false;
  const ours = (m: unknown) => text(m).trim().toLowerCase() === PRODUCT_MANUFACTURER;
  if (ours(instance.Manufacturer)) return true;
  if (items(instance.ContributingEquipmentSequence).some((e) => ours(e.Manufacturer))) return true;
  return MARK.test(text(instance.ImageComments)) || MARK.test(text(instance.SeriesDescription));
}

interface DisplaySetLike {
  readonly SeriesInstanceUID?: unknown;
  readonly SeriesDescription?: unknown;
  readonly instance?: Naturalized;
  readonly instances?: readonly Naturalized[];
}

/** The overlay's condition props (CustomizableViewportOverlay): every display set of the viewport. */
export interface OverlayProps {
  readonly displaySets?: readonly DisplaySetLike[] | null;
  readonly displaySet?: DisplaySetLike | null;
  readonly instance?: Naturalized | null;
  readonly referenceInstance?: Naturalized | null;
}

export function showsProductImage(props: OverlayProps | null | undefined): boolean {
  if (!props) return false;
  if (isProductImage(props.instance) || isProductImage(props.referenceInstance)) return true;
  const sets = [...(props.displaySets ?? []), ...(props.displaySet ? [props.displaySet] : [])];
  return sets.some(
    (ds) =>
      MARK.test(text(ds.SeriesDescription)) ||
      isProductImage(ds.instance) ||
      isProductImage(ds.instances?.[0]),
  );
}

/** True when the viewport shows a series held only in memory (not saved yet). */
export function showsUnsavedSeries(props: OverlayProps | null | undefined): boolean {
  if (!props) return false;
  const sets = [...(props.displaySets ?? []), ...(props.displaySet ? [props.displaySet] : [])];
  return (
    sets.some((ds) => isUnsavedSeries(ds.SeriesInstanceUID)) ||
    isUnsavedSeries(props.instance?.SeriesInstanceUID)
  );
}

/**
 * The element OHIF renders (its React 18 renders elements made by the
 * extension's React 18: same element format). Divs, not spans: OHIF's overlay
 * stylesheet cuts spans with an ellipsis.
 */
export function overlayElement(): ReactElement {
  return badge(OVERLAY_TEST_ID, OVERLAY_TEXT, {
    background: '#8b1e1e',
    fontSize: 13,
    lineHeight: '18px',
    letterSpacing: '0.02em',
  });
}

/** A wrapping block of white bold text on a coloured background. */
function badge(testId: string, text: string, look: Record<string, string | number>): ReactElement {
  return createElement(
    'div',
    {
      'data-testid': testId,
      role: 'note',
      style: {
        display: 'block',
        whiteSpace: 'normal',
        overflowWrap: 'break-word',
        margin: '0 0 4px',
        padding: '1px 6px',
        borderRadius: 3,
        color: '#fff',
        fontWeight: 700,
        textShadow: 'none',
        ...look,
      },
    },
    text,
  );
}

export const overlayItem = {
  id: OVERLAY_ITEM_ID,
  title: OVERLAY_TEXT,
  condition: (props: OverlayProps) => showsProductImage(props),
  contentF: () => overlayElement(),
};

/** The "not saved" block (amber, under the red warning). */
export function unsavedElement(): ReactElement {
  return badge(UNSAVED_TEST_ID, UNSAVED_TEXT, { background: '#7a5200', fontSize: 12, lineHeight: '16px' });
}

export const unsavedItem = {
  id: UNSAVED_ITEM_ID,
  title: UNSAVED_TEXT,
  condition: (props: OverlayProps) => showsUnsavedSeries(props),
  contentF: () => unsavedElement(),
};

interface CustomizationServiceLike {
  setCustomizations?(customizations: Record<string, unknown>, scope?: string): void;
  getCustomization?(id: string): unknown;
  getCustomizations?(scope: string): { has?(id: string): boolean } | undefined;
}

/**
 * Prepends the two items (warning, then "unsaved") to the top-left overlay
 * (call on every mode entry). Mode scope, which OHIF resets on each entry;
 * global scope when the site defines the top-left overlay globally (global
 * wins over mode in OHIF's lookup). Never adds them twice.
 */
export function registerViewportOverlay(customizationService: unknown): boolean {
  const cs = customizationService as CustomizationServiceLike | null | undefined;
  if (typeof cs?.setCustomizations !== 'function') return false;
  const current = cs.getCustomization?.(OVERLAY_CUSTOMIZATION);
  if (Array.isArray(current) && current.some((i) => (i as { id?: unknown } | null)?.id === OVERLAY_ITEM_ID)) {
    return true;
  }
  const scope = cs.getCustomizations?.('global')?.has?.(OVERLAY_CUSTOMIZATION) ? 'global' : 'mode';
  cs.setCustomizations({ [OVERLAY_CUSTOMIZATION]: { $unshift: [overlayItem, unsavedItem] } }, scope);
  return true;
}
