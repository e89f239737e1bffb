/**
 * The panels' stylesheet. OHIF 3.13's Tailwind build only contains the
 * classes OHIF itself uses, so layout comes from this small scoped sheet
 * (prefix `gldm-`), and every colour, radius and font from OHIF's own theme
 * variables (--primary, --foreground, --input, ... as HSL triplets), so the
 * panels follow the viewer's dark theme and any customised theme.
 */
export const STYLE_ELEMENT_ID = 'geometry-ldm-panel-styles';

export const PANEL_CSS = `
.gldm-panel{font-size:13px;line-height:1.35;color:hsl(var(--foreground,0 0% 98%));padding:8px 10px 16px;display:flex;flex-direction:column;gap:10px;min-width:0}
.gldm-panel *{box-sizing:border-box}
.gldm-panel h2{font-size:14px;font-weight:600;margin:0;color:hsl(var(--foreground,0 0% 98%))}
.gldm-panel h3{font-size:12px;font-weight:600;margin:0;color:hsl(var(--primary,214 98% 60%))}
.gldm-section{display:flex;flex-direction:column;gap:6px;border-top:1px solid hsl(var(--input,236 52% 30%)/0.6);padding-top:8px}
.gldm-label{display:block;font-size:11px;color:hsl(var(--muted-foreground,200 46% 65%));margin-bottom:2px}
.gldm-hint{font-size:11px;color:hsl(var(--muted-foreground,200 46% 65%))}
.gldm-value{font-variant-numeric:tabular-nums}
.gldm-input,.gldm-select{width:100%;min-width:0;height:26px;padding:2px 6px;font-size:12px;color:hsl(var(--foreground,0 0% 98%));background:hsl(var(--background,0 0% 0%));border:1px solid hsl(var(--input,236 52% 30%));border-radius:calc(var(--radius,0.5rem) - 2px)}
.gldm-input:disabled,.gldm-select:disabled{opacity:.5}
.gldm-panel :focus-visible{outline:2px solid hsl(var(--ring,214 98% 60%));outline-offset:1px}
.gldm-grid3{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:4px}
.gldm-grid2{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:6px}
.gldm-range-row{display:grid;grid-template-columns:18px minmax(0,1fr) minmax(0,1fr);gap:4px;align-items:end}
.gldm-row{display:flex;gap:6px;align-items:center;flex-wrap:wrap}
.gldm-check{display:flex;gap:6px;align-items:center;font-size:12px}
.gldm-btn{display:inline-flex;align-items:center;justify-content:center;gap:4px;height:28px;padding:0 12px;font-size:12px;font-weight:500;border-radius:calc(var(--radius,0.5rem) - 2px);border:1px solid transparent;cursor:pointer;background:hsl(var(--primary,214 98% 60%));color:hsl(var(--primary-foreground,0 0% 98%))}
.gldm-btn:hover:not(:disabled){filter:brightness(1.1)}
.gldm-btn:disabled{opacity:.45;cursor:not-allowed}
.gldm-btn-secondary{background:transparent;color:hsl(var(--primary,214 98% 60%));border-color:hsl(var(--input,236 52% 30%))}
.gldm-btn-danger{background:hsl(var(--destructive,0 62.8% 30.6%));color:hsl(var(--destructive-foreground,0 0% 98%))}
.gldm-btn-small{height:22px;padding:0 8px;font-size:11px}
.gldm-wide{width:100%}
.gldm-progress{height:6px;border-radius:3px;overflow:hidden;background:hsl(var(--muted,234 64% 10%));border:1px solid hsl(var(--input,236 52% 30%)/0.6)}
.gldm-progress>div{height:100%;background:hsl(var(--primary,214 98% 60%));transition:width .2s}
.gldm-badge{display:inline-flex;align-items:center;gap:4px;padding:1px 6px;border-radius:999px;font-size:11px;border:1px solid hsl(var(--input,236 52% 30%));color:hsl(var(--secondary-foreground,200 50% 84%))}
.gldm-badge-gpu{border-color:hsl(var(--primary,214 98% 60%));color:hsl(var(--primary,214 98% 60%))}
.gldm-card{font-size:11px;color:hsl(var(--muted-foreground,200 46% 65%));background:hsl(var(--muted,234 64% 10%)/0.6);border-radius:calc(var(--radius,0.5rem) - 2px);padding:6px 8px}
.gldm-card summary{cursor:pointer;color:hsl(var(--primary,214 98% 60%));margin-top:2px}
.gldm-card-title{font-size:12px;font-weight:600;color:hsl(var(--foreground,0 0% 98%));overflow-wrap:anywhere}
.gldm-card-use{font-size:11px;color:hsl(var(--foreground,0 0% 98%))}
.gldm-card-use strong{color:hsl(40 90% 65%);font-weight:600}
.gldm-ndu{display:block;text-align:center;font-size:11px;font-weight:700;letter-spacing:.03em;color:#fff;background:#8b1e1e;border-radius:3px;padding:2px 4px}
.gldm-error{color:hsl(0 85% 72%);font-size:12px}
.gldm-warning{color:hsl(40 90% 65%);font-size:12px}
.gldm-ok{color:hsl(140 55% 60%);font-size:12px}
.gldm-list{margin:0;padding-left:16px}
.gldm-view{position:relative;background:#000;border:1px solid hsl(var(--input,236 52% 30%));border-radius:4px;overflow:hidden}
.gldm-view canvas{display:block;width:100%;height:auto;image-rendering:pixelated}
.gldm-view .gldm-ndu{border-radius:0}
.gldm-bodybar{position:relative;height:10px;border-radius:5px;background:hsl(var(--muted,234 64% 10%));border:1px solid hsl(var(--input,236 52% 30%))}
.gldm-bodybar>div{position:absolute;top:0;bottom:0;background:hsl(var(--primary,214 98% 60%)/0.7);border-radius:4px}
.gldm-kv{display:grid;grid-template-columns:auto minmax(0,1fr);column-gap:8px;row-gap:2px;font-size:12px}
.gldm-kv dt{color:hsl(var(--muted-foreground,200 46% 65%))}
.gldm-kv dd{margin:0;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.gldm-sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);border:0}
`;
