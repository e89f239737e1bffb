/** Banners and notices both panels show: styles, "not for diagnostic use", messages, header, lost job. */
import * as React from 'react';
import { lostJobText, type JobMarker } from '../pageMemory';
import { PANEL_CSS } from './styles';

export function PanelStyles(): React.ReactElement {
  return <style>{PANEL_CSS}</style>;
}

export function NotForDiagnosticUse(): React.ReactElement {
  return <span className="gldm-ndu">AI-generated — NOT FOR DIAGNOSTIC USE</span>;
}

export function Messages(props: {
  readonly errors?: readonly string[];
  readonly warnings?: readonly string[];
}): React.ReactElement | null {
  const errors = props.errors ?? [];
  const warnings = props.warnings ?? [];
  if (errors.length === 0 && warnings.length === 0) return null;
  return (
    <div role="status" aria-live="polite">
      {errors.map((e) => (
        <p key={e} className="gldm-error" style={{ margin: '2px 0' }}>
          {e}
        </p>
      ))}
      {warnings.map((w) => (
        <p key={w} className="gldm-warning" style={{ margin: '2px 0' }}>
          {w}
        </p>
      ))}
    </div>
  );
}

/** A job this tab lost to a reload (pageMemory.ts), named until dismissed; both panels show it. */
export function LostJobNotice(props: {
  readonly job: JobMarker;
  readonly onDismiss: () => void;
}): React.ReactElement {
  return (
    <div role="status" className="gldm-warning" data-testid="geometry-ldm-lost-job">
      {lostJobText(props.job)}{' '}
      <button type="button" className="gldm-btn gldm-btn-secondary gldm-btn-small" onClick={props.onDismiss}>
        Dismiss
      </button>
    </div>
  );
}
