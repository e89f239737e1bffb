// Super-resolution quality on four held-out scans that no model here was trained on
// (models/training/ldm/data.py HELD_OUT), through the product's TypeScript pipeline
// (inference/superResolve.ts) with the model in GEOMETRY_LDM_BENCH_MODEL (default
// models/geometry-ldm-demo) on onnxruntime-node, 2 threads.
//
// Truths: lidc-idri-0001 (chest, 0.70 x 0.70 x 2.5 mm, the central 256 x 256 columns/rows,
// all slices), 4d-lung-113-phase40 (chest, 1.95 x 1.95 x 3 mm) and head-neck-pet-ct-chus-052
// (head and neck, 2.34 x 2.34 x 3 mm), both from ../shared/data/train, and crlm-ct-1004
// (abdomen, 1.59 x 1.59 x 5 mm, from train/: held out since 2026-12-04 as a check on anatomy no
// earlier row measured; its slices are already 5 mm, so it has no 5 mm Gaussian case).
// Degradations (volume/acquisition.ts; sample centres on whole truth voxels' boxes):
//   2x2x4 block average                      box 2, 2, 4
//   5 mm Gaussian slices                     Gaussian FWHM 5 mm every 5 mm along k
//   2x in-plane + 2.5x slices                box 2, 2, 2.5
// Each is super-resolved back onto the truth grid with the product's default slice model
// (autoSliceModel from the SliceThickness a header of that series would carry: for all three
// a box as wide as the spacing, which is right for the box cases and a mismatch for the
// Gaussian one) and scored over the body (truth > -900 HU): MAE and PSNR (peak 2000 HU) of
// trilinear, classical back-projection, the AI refiner before the final projection ("AI raw")
// and after it (the product default), plus Pearson r between the AI std and its error.
// GEOMETRY_LDM_BENCH_SR (JSON) overrides superResolve options, e.g. '{"samples":4}';
// GEOMETRY_LDM_BENCH_CASES (comma list of scan names) limits the scans;
// GEOMETRY_LDM_BENCH_DEGRADATIONS (comma list of labels, e.g. '5 mm Gaussian slices') the degradations;
// GEOMETRY_LDM_BENCH_SR_DEGRADATIONS=sweep runs a factor sweep instead of the three (DEGRADATIONS below);
// GEOMETRY_LDM_BENCH_SR_ORIENTATION=sagittal|coronal takes the slices across another axis (a reformat;
// sr-quality-entry.ts reslice): the degradations' third factor then coarsens left-right or front-back.
// GEOMETRY_LDM_BENCH_TRUE_PROFILE=1 tells the pipeline the true slice profile instead of the default;
// GEOMETRY_LDM_BENCH_PROFILE=box|gaussian names one profile (width: the slice thickness) for every case.
// GEOMETRY_LDM_BENCH_METRICS=FILE merges the rows into that metrics.json (key
// superResolutionHeldOut; ldm.export --metrics puts it into model.json).
// GEOMETRY_LDM_BENCH_IMAGES=DIR writes DIR/sr-<scan>.png: per case (rows) the coronal mid-slice of
// truth | trilinear | classical | AI + projection | AI std (white = 100 HU), window [-1000, 500] HU.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const SCANS = [
  { name: 'lidc-idri-0001', kind: 'dicom', rel: 'lidc-idri-0001' },
  { name: '4d-lung-113-phase40', kind: 'nifti', rel: 'train/4d-lung-113-phase40.nii.gz' },
  { name: 'head-neck-pet-ct-chus-052', kind: 'nifti', rel: 'train/head-neck-pet-ct-chus-052.nii.gz' },
  {
    name: 'crlm-ct-1004',
    kind: 'nifti',
    rel: 'train/crlm-ct-1004.nii.gz',
    skip: ['5 mm Gaussian slices'],
  },
];

// GEOMETRY_LDM_BENCH_SR_SET=validation runs other scans instead, for choosing settings without
// looking at the held-out ones: the six largest Soft-tissue-Sarcoma crops (limbs and trunk wall,
// 1.95 x 1.95 x 3.27 mm), which neither the autoencoder nor the UNet trained on (the refiner
// did: this set says nothing about the AI mode); the two box degradations.
const VALIDATION = ['STS_020', 'STS_013', 'STS_009', 'STS_049', 'STS_037', 'STS_046'].map((n) => ({
  name: n,
  kind: 'nifti',
  rel: `train/soft-tissue-sarcoma/${n}.nii.gz`,
  // 3.27 mm slices: 5 mm is no whole number of them
  skip: ['5 mm Gaussian slices'],
}));

// GEOMETRY_LDM_BENCH_SR_SET=dicom-unseen: the two DICOM series of ../shared/data that no network
// here trained on (training reads NIfTI and uncompressed DICOM; neither of these was in any
// training list), read through a private Orthanc by the product's DICOMweb reader
// (readPacsTruths): ge-head-gantry-tilt (head, 0.49 x 0.49 mm, an 18.5 degree gantry tilt and
// slice gaps of 1.08-7 mm, resampled exactly onto a regular grid as the panel does; between far
// slices that grid is interpolated, so its truth along the slice axis is smoother than a scan's)
// and totalseg-abdomen (contrast abdomen, 0.98 x 0.98 x 2 mm, JPEG 2000); the central 256 x 256.
const DICOM_UNSEEN = [
  // its 28 slices resample to 5.34 mm apart: 5 mm is no coarser (skipped as a factor below 1)
  { name: 'ge-head-gantry-tilt', kind: 'pacs', rel: 'ge-head-gantry-tilt' },
  { name: 'totalseg-abdomen', kind: 'pacs', rel: 'totalseg-abdomen/dicom' },
];
// GEOMETRY_LDM_BENCH_SR_SCANS=PATH[,PATH...]: your own thin-slice CT instead of a set, each a NIfTI
// file (.nii, .nii.gz) or a folder of one DICOM series (read through a private Orthanc, as
// dicom-unseen). Degradations that would not coarsen a scan are skipped with a logged reason.
function ownScans(list) {
  return list.split(',').map((p) => {
    const abs = path.resolve(p);
    if (!existsSync(abs)) throw new Error(`GEOMETRY_LDM_BENCH_SR_SCANS: ${abs} does not exist`);
    const dir = statSync(abs).isDirectory();
    if (!dir && !/\.nii(\.gz)?$/.test(abs))
      throw new Error(`GEOMETRY_LDM_BENCH_SR_SCANS: ${abs} is neither a .nii(.gz) file nor a DICOM folder`);
    return { name: path.basename(abs).replace(/\.nii(\.gz)?$/, ''), kind: dir ? 'pacs' : 'nifti', abs };
  });
}
const SETS = { 'held-out': SCANS, validation: VALIDATION, 'dicom-unseen': DICOM_UNSEEN };

// The degradations: per axis [factor, profile] (factor = acquired / truth spacing; sk = the
// truth's slice spacing in mm). 'standard' is the table of BENCHMARKS.md and the model card;
// GEOMETRY_LDM_BENCH_SR_DEGRADATIONS=sweep runs other factors instead (2x, 3x and 5x slices
// alone, 2x in-plane alone, 3x in-plane with 2x slices), all with box profiles.
const box = (f) => [f, 'box'];
const DEGRADATIONS = {
  standard: (sk) => [
    ['2x2x4 block average', [box(2), box(2), box(4)]],
    ['5 mm Gaussian slices', [box(1), box(1), [5 / sk, 'gaussian']]],
    ['2x in-plane + 2.5x slices', [box(2), box(2), box(2.5)]],
  ],
  sweep: () => [
    ['2x slices', [box(1), box(1), box(2)]],
    ['3x slices', [box(1), box(1), box(3)]],
    ['5x slices', [box(1), box(1), box(5)]],
    ['2x in-plane', [box(2), box(2), box(1)]],
    ['3x in-plane + 2x slices', [box(3), box(3), box(2)]],
  ],
};

export default {
  name: 'sr-quality',
  description:
    'SR on 4 held-out scans (or the validation or dicom-unseen set, or your own) x 2-3 degradations: trilinear, classical, AI raw, AI + projection (MAE/PSNR over the body), std-error r',
  async run(ctx) {
    const dir = path.resolve(ctx.root, process.env.GEOMETRY_LDM_BENCH_MODEL ?? 'models/geometry-ldm-demo');
    if (!existsSync(path.join(dir, 'model.json'))) throw new Error(`no model at ${dir}`);
    const data = path.resolve(process.env.SHARED_DATA ?? path.join(ctx.root, '..', 'shared', 'data'));
    const { module: E } = await ctx.bundle('scripts/bench/sr-quality-entry.ts');
    const { module: L } = await ctx.bundle('scripts/bench/engine-entry.ts');
    const overrides = JSON.parse(process.env.GEOMETRY_LDM_BENCH_SR ?? '{}');
    const only = process.env.GEOMETRY_LDM_BENCH_CASES?.split(',');
    const imagesDir = process.env.GEOMETRY_LDM_BENCH_IMAGES;
    const P = imagesDir ? (await ctx.bundle('scripts/model-card-images-entry.ts')).module : null;
    // std 0..100 HU shown as -1000..500 (the pictures' window)
    const stdPicture = (v) => ({ ...v, data: v.data.map((x) => -1000 + 1500 * Math.min(1, x / 100)) });
    const model = await L.load(dir, 'node', 2, ctx.root);
    const rows = [];
    try {
      const own = process.env.GEOMETRY_LDM_BENCH_SR_SCANS;
      if (own && process.env.GEOMETRY_LDM_BENCH_SR_SET)
        throw new Error('GEOMETRY_LDM_BENCH_SR_SCANS replaces the set: not with GEOMETRY_LDM_BENCH_SR_SET');
      const set = own ? 'own scans' : (process.env.GEOMETRY_LDM_BENCH_SR_SET ?? 'held-out');
      if (own) SETS[set] = ownScans(own);
      if (!Object.hasOwn(SETS, set))
        throw new Error(`GEOMETRY_LDM_BENCH_SR_SET: ${Object.keys(SETS).join(', ')}; got '${set}'`);
      // the model card's held-out rows must come from the held-out set
      if (set !== 'held-out' && process.env.GEOMETRY_LDM_BENCH_METRICS)
        throw new Error(
          `GEOMETRY_LDM_BENCH_METRICS records held-out rows: not with GEOMETRY_LDM_BENCH_SR_SET=${set}`,
        );
      const degradationSet = process.env.GEOMETRY_LDM_BENCH_SR_DEGRADATIONS ?? 'standard';
      if (!Object.hasOwn(DEGRADATIONS, degradationSet))
        throw new Error(
          `GEOMETRY_LDM_BENCH_SR_DEGRADATIONS: ${Object.keys(DEGRADATIONS).join(', ')}; got '${degradationSet}'`,
        );
      // the model card's rows are the standard degradations
      if (degradationSet !== 'standard' && process.env.GEOMETRY_LDM_BENCH_METRICS)
        throw new Error('GEOMETRY_LDM_BENCH_METRICS records the standard degradations only');
      const orientation = process.env.GEOMETRY_LDM_BENCH_SR_ORIENTATION ?? 'axial';
      if (!['axial', 'sagittal', 'coronal'].includes(orientation))
        throw new Error(
          `GEOMETRY_LDM_BENCH_SR_ORIENTATION: axial, sagittal or coronal; got '${orientation}'`,
        );
      if (orientation !== 'axial' && process.env.GEOMETRY_LDM_BENCH_METRICS)
        throw new Error('GEOMETRY_LDM_BENCH_METRICS records axial slices only');
      const scans = SETS[set].filter((scan) => !only || only.includes(scan.name));
      const pacs = scans.some((scan) => scan.kind === 'pacs')
        ? await E.readPacsTruths(
            scans
              .filter((scan) => scan.kind === 'pacs')
              .map((scan) => ({ name: scan.name, dir: scan.abs ?? path.join(data, scan.rel) })),
            256,
            createRequire(import.meta.url)('@cornerstonejs/codec-openjpeg/decodewasmjs'),
            ctx.log,
          )
        : [];
      for (const scan of scans) {
        const p = scan.abs ?? path.join(data, scan.rel);
        const read =
          scan.kind === 'pacs'
            ? pacs.find((t) => t.name === scan.name).volume
            : scan.kind === 'dicom'
              ? E.loadDicomTruth(p, 256)
              : E.loadNiftiTruth(p);
        const full = E.reslice(read, orientation);
        const cases = DEGRADATIONS[degradationSet](
          Math.hypot(full.affine[2], full.affine[6], full.affine[10]),
        );
        const pictureRows = [];
        const onlyDegradations = process.env.GEOMETRY_LDM_BENCH_DEGRADATIONS?.split(',');
        for (const [label, axes] of cases) {
          if (onlyDegradations && !onlyDegradations.includes(label)) continue;
          if (scan.skip?.includes(label)) continue;
          const degradation = axes.map(([factor, profile]) => ({ factor, profile }));
          // a degradation that coarsens nothing (5 mm on 5 mm slices), or one with no whole crop
          // (a reformat's 5 mm in 4d-lung-113's 1.95 mm voxels: 2.56 of them)
          const problem = E.degradeProblem(full, degradation);
          if (problem) {
            ctx.log(`${scan.name}: ${label}: skipped, ${problem}`);
            continue;
          }
          const c = E.degrade(full, degradation);
          const named = process.env.GEOMETRY_LDM_BENCH_PROFILE;
          const slices =
            process.env.GEOMETRY_LDM_BENCH_TRUE_PROFILE === '1'
              ? { profile: c.trueProfile, widthMm: c.sliceThicknessMm, reason: 'told the true profile' }
              : named
                ? { profile: named, widthMm: c.sliceThicknessMm, reason: 'named for the bench' }
                : E.autoSliceModel(c.sliceThicknessMm, c.sliceThicknessMm, null);
          const t0 = performance.now();
          const r = await E.superResolve(
            model,
            c.low,
            { kind: 'grid', grid: { dims: c.truth.dims, affine: c.truth.affine } },
            { seed: 1, slices, ...overrides },
          );
          const ms = performance.now() - t0;
          const s = (v) => E.score(c.truth.data, v.data);
          const tri = s(r.upsampled);
          const cla = s(r.classical);
          const raw = r.unprojected ? s(r.unprojected) : null;
          const ai = s(r.mean);
          const corr =
            r.settings.samples > 1 ? E.stdErrorCorrelation(c.truth.data, r.mean.data, r.std.data) : null;
          const row = {
            case: `${scan.name}: ${label} (${c.low.dims.join('x')} -> ${c.truth.dims.join('x')})`,
            medianMs: ms,
            runsMs: [ms],
            sliceModel: E.describeSliceModel(slices),
            trueProfile: c.trueProfile,
            mode: r.settings.mode,
            samples: r.settings.samples,
            trilinearMaeHu: +tri.maeHu.toFixed(1),
            classicalMaeHu: +cla.maeHu.toFixed(1),
            aiRawMaeHu: raw ? +raw.maeHu.toFixed(1) : null,
            aiMaeHu: +ai.maeHu.toFixed(1),
            trilinearPsnrDb: +tri.psnrDb.toFixed(2),
            classicalPsnrDb: +cla.psnrDb.toFixed(2),
            aiRawPsnrDb: raw ? +raw.psnrDb.toFixed(2) : null,
            aiPsnrDb: +ai.psnrDb.toFixed(2),
            aiOverTrilinear: +(ai.maeHu / tri.maeHu).toFixed(3),
            aiOverClassical: +(ai.maeHu / cla.maeHu).toFixed(3),
            stdAbsErrorPearson: corr === null ? null : +corr.toFixed(3),
            fidelityMeanAbsHu: r.fidelity ? +r.fidelity.meanAbs.toFixed(2) : null,
          };
          ctx.log(
            `${row.case}: trilinear ${row.trilinearMaeHu} | classical ${row.classicalMaeHu} | AI raw ${row.aiRawMaeHu} | AI ${row.aiMaeHu} HU (x${row.aiOverTrilinear} trilinear, x${row.aiOverClassical} classical); r ${row.stdAbsErrorPearson}; fidelity ${row.fidelityMeanAbsHu} HU; ${(ms / 1000).toFixed(0)} s`,
          );
          rows.push(row);
          if (P)
            pictureRows.push(
              [c.truth, r.upsampled, r.classical, r.mean, stdPicture(r.std)].map((v) => P.midSlices(v)[1]),
            );
        }
        if (P) {
          mkdirSync(imagesDir, { recursive: true });
          writeFileSync(path.join(imagesDir, `sr-${scan.name}.png`), P.png(P.montage(pictureRows)));
        }
      }
    } finally {
      await model.release();
    }
    const mean = (k) => rows.reduce((a, r) => a + r[k], 0) / rows.length;
    const metricsFile = process.env.GEOMETRY_LDM_BENCH_METRICS;
    if (metricsFile) {
      const m = existsSync(metricsFile) ? JSON.parse(readFileSync(metricsFile, 'utf8')) : {};
      m.superResolutionHeldOut = {
        note: 'npm run bench -- sr-quality: MAE (HU) over voxels whose truth is above -900 HU; default mode and settings',
        date: new Date().toISOString().slice(0, 10),
        cases: rows.map((r) => {
          const { medianMs, runsMs: _runs, ...rest } = r;
          return { ...rest, seconds: +(medianMs / 1000).toFixed(1) };
        }),
      };
      writeFileSync(metricsFile, JSON.stringify(m, null, 2) + '\n');
    }
    ctx.log(
      `mean over ${rows.length} cases: MAE trilinear ${mean('trilinearMaeHu').toFixed(1)}, classical ${mean('classicalMaeHu').toFixed(1)}, AI ${mean('aiMaeHu').toFixed(1)} HU; AI / trilinear ${mean('aiOverTrilinear').toFixed(3)}, AI / classical ${mean('aiOverClassical').toFixed(3)}; AI beats trilinear in ${rows.filter((r) => r.aiOverTrilinear < 1).length}/${rows.length}`,
    );
    return rows;
  },
};
