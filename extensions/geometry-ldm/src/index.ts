/**
 * Bundle entry of the OHIF extension (platform-config/scripts/build-extension.mjs
 * builds it as an ES module; the viewer's import map resolves
 * `@geometry-ldm/extension` to it). The inference worker is bundled next to it
 * as `engine-worker.js`, so its default URL is relative to this module.
 */
import { createExtension } from './ohif/extension';
import { createPanels } from './panels';

export { EXTENSION_ID, PANEL_IDS, COMMANDS } from './ohif/ids';

export default createExtension({
  createPanels,
  defaultWorkerUrl: new URL('./engine-worker.js', import.meta.url).href,
});
