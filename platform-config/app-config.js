/**
 * OHIF viewer configuration for geometry-ldm (served as /app-config.js in place
 * of the prebuilt viewer's own file; OHIF's files are not modified).
 *
 * - One DICOMweb data source: the local PACS through the viewer's own origin
 *   (`/dicom-web`, a reverse proxy that injects the PACS credentials server-side:
 *   there are none in this file or anywhere in the browser).
 * - The geometry-ldm extension and the Synthesis mode are registered by module
 *   name; the import map the server puts into index.html maps the names to the
 *   bundle URLs.
 * - `geometryLdm`: where the extension finds its model and runtime files.
 *
 * Absolute URLs are built from window.location.origin, so the same file works on
 * any host and port (development server, nginx deployment).
 */
/* global window */ // eslint-disable-line no-redeclare
(function () {
  var origin = window.location.origin;
  var dicomWeb = origin + '/dicom-web';

  window.config = {
    name: 'geometry-ldm',
    routerBasename: '/',
    extensions: ['@geometry-ldm/extension'],
    modes: ['@geometry-ldm/mode-synthesis'],
    customizationService: {},
    showStudyList: true,
    maxNumberOfWebWorkers: 2,
    showWarningMessageForCrossOrigin: false,
    showCPUFallbackMessage: true,
    showLoadingIndicator: true,
    strictZSpacingForVolumeViewport: true,
    groupEnabledModesFirst: true,
    investigationalUseDialog: { option: 'never' },
    maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 10 },
    showErrorDetails: 'always',
    defaultDataSourceName: 'pacs',
    dataSources: [
      {
        namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
        sourceName: 'pacs',
        configuration: {
          friendlyName: 'Local PACS (Orthanc)',
          name: 'pacs',
          wadoUriRoot: dicomWeb,
          qidoRoot: dicomWeb,
          wadoRoot: dicomWeb,
          qidoSupportsIncludeField: false,
          supportsReject: false,
          dicomUploadEnabled: true,
          imageRendering: 'wadors',
          thumbnailRendering: 'wadors',
          enableStudyLazyLoad: true,
          supportsFuzzyMatching: false,
          supportsWildcard: true,
          omitQuotationForMultipartRequest: true,
          bulkDataURI: { enabled: true },
        },
      },
    ],
    geometryLdm: {
      // The model directory (model.json manifest + ONNX files), same origin.
      modelUrl: origin + '/geometry-ldm/model/',
      // onnxruntime-web's wasm/mjs files (for the inference worker).
      ortWasmUrl: origin + '/geometry-ldm/ort/',
      // The inference worker bundle (built next to the extension bundle).
      workerUrl: origin + '/geometry-ldm/bundles/engine-worker.js',
      preferWebGPU: true,
    },
  };
})();
