// Generation quality against held-out real CT at the same geometry (GEOMETRY_LDM_BENCH_MODEL,
// default models/geometry-ldm-demo; onnxruntime-node, 2 threads, DDIM with the manifest's steps and eta).
//
// Eight geometries at 64 x 64 x 64 voxels: the whole scan-extent box, its upper and lower half
// (FOV w = 0.5:1 and 0:0.5) and the whole box rotated 20 degrees about z, each for two held-out
// scans (lidc-idri-0001, 4d-lung-113-phase40; chest CT like most of the training data). For each,
// GEOMETRY_LDM_BENCH_SAMPLES generated samples (default 4; seeds = the case and the sample index:
// single-sample distances vary by tens of HU with the seed) and the real scan seen through that geometry
// (generation-quality-entry.ts realAtGeometry). Score: Wasserstein-1 distance (HU) between the HU
// histograms (values clipped to [-1024, 2000]) of sample and real crop, the mean over the samples
// (and their range); the autoencoder's ceiling: the real crop encoded and decoded; as a floor, the same
// distance between the two real scans at that geometry. Bone: the fraction of body voxels (> -500 HU)
// at >= 200 HU in the samples (mean), the real crop and its round trip (a histogram distance barely
// notices a few percent of missing bone). Lungs (anatomyShape.ts): the share of the grid that is air
// enclosed by the body in its axial plane, and how fragmented it is (the share outside the two largest
// 3D components), and the mean HU of the lungs and of the air around the body, for the samples (mean)
// and the real crop; skeleton: the share of the voxels at
// >= 200 HU in their largest 6-connected component (a spine: large; specks of bone: small). The
// summary's gaps are |sample - real|. Bands (histogramBands.ts): each HU band's part of the W1 (they
// add up to it) and the share of voxels in the band, samples (mean) vs real crop, and the same for the
// autoencoder's round trip: where a distance is lost, and whether the decoder alone loses it.
// GEOMETRY_LDM_BENCH_IMAGES=DIR writes DIR/generation-vs-real.png: 8 generated (top row) over
// the 8 real crops (bottom row), coronal mid-slices, window [-1000, 500] HU; -sagittal.png and
// -axial.png the same through the other two mid-planes.
// GEOMETRY_LDM_BENCH_GRID=nx,ny,nz runs the same geometries at another grid (multiples of 8, e.g.
// 128,128,128); its cases are labelled with the grid.
// GEOMETRY_LDM_BENCH_REFERENCES=train: the UNet's training scans as the references (see referenceScans);
// the real-vs-real floor then compares the first two of them.
// GEOMETRY_LDM_BENCH_SEEDS=NAME draws the samples from another seed set (a model compared on two
// sets shows how much of a difference is the draw; compare with a baseline run on the same set).
// GEOMETRY_LDM_BENCH_PROBE_T=100,300,600 (noise levels t): where in t the skeleton is decided. Each
// real crop is also encoded, noised to each t, denoised by the generation sampler from there and
// decoded (generation-quality-entry.ts noisedRoundTrip; GEOMETRY_LDM_BENCH_PROBE_SAMPLES draws per t,
// default 2), and its skeleton share compared with the real crop's like the samples'.
// Last row: the mean over the sample cases and the bone gap (generationSummary.ts); with
// GEOMETRY_LDM_BENCH_BASELINE=a model folder (its metrics.json's recorded W1) or a bench JSON,
// also the baseline's mean, how many cases are lower and the worst ratio to it.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const HELD_OUT_SCANS = [
  { name: 'lidc-idri-0001', kind: 'dicom', rel: 'lidc-idri-0001' },
  { name: '4d-lung-113-phase40', kind: 'nifti', rel: 'train/4d-lung-113-phase40.nii.gz' },
];
/**
 * GEOMETRY_LDM_BENCH_REFERENCES=train compares with the UNet's own training scans instead (the
 * list the training config names, slices included): how well the samples fit what the model was
 * taught, apart from how much the held-out patients resemble the training ones.
 */
function referenceScans(root, which) {
  if (which === undefined || which === '' || which === 'held-out') return HELD_OUT_SCANS;
  if (which !== 'train') throw new Error(`GEOMETRY_LDM_BENCH_REFERENCES '${which}': held-out or train`);
  const list = JSON.parse(readFileSync(path.join(root, 'models/training/configs/unet-scans.json'), 'utf8'));
  return list.map((s) => ({ name: s.name, kind: s.kind, rel: s.path, slices: s.slices }));
}
const GEOMETRIES = [
  ['whole box', { kind: 'fov', dims: [64, 64, 64] }],
  [
    'upper half',
    {
      kind: 'fov',
      dims: [64, 64, 64],
      fov: [
        [0, 1],
        [0, 1],
        [0.5, 1],
      ],
    },
  ],
  [
    'lower half',
    {
      kind: 'fov',
      dims: [64, 64, 64],
      fov: [
        [0, 1],
        [0, 1],
        [0, 0.5],
      ],
    },
  ],
  ['rotated 20 deg about z', { kind: 'fov', dims: [64, 64, 64], rotationDeg: [0, 0, 20] }],
];

/** GEOMETRY_LDM_BENCH_GRID: [nx, ny, nz] for every geometry, or null for the default 64^3. */
function benchGrid(text) {
  if (text === undefined || text === '') return null;
  const dims = text.split(',').map(Number);
  if (dims.length !== 3 || !dims.every((n) => Number.isInteger(n) && n >= 8 && n % 8 === 0)) {
    throw new Error(`GEOMETRY_LDM_BENCH_GRID '${text}': three multiples of 8, e.g. 128,128,128`);
  }
  return dims;
}
const GRID = benchGrid(process.env.GEOMETRY_LDM_BENCH_GRID);
const CASES = GRID
  ? GEOMETRIES.map(([label, g]) => [`${label} ${GRID.join('x')}`, { ...g, dims: GRID }])
  : GEOMETRIES;

const SAMPLES = Number(process.env.GEOMETRY_LDM_BENCH_SAMPLES ?? 4);
const SEED_SET = process.env.GEOMETRY_LDM_BENCH_SEEDS ?? '';
// GEOMETRY_LDM_BENCH_SAMPLER (JSON) replaces the sampler, e.g. '{"kind":"ddpm"}' or
// '{"kind":"ddim","steps":50,"eta":1}' (default: DDIM with the manifest's steps)
const SAMPLER = process.env.GEOMETRY_LDM_BENCH_SAMPLER
  ? JSON.parse(process.env.GEOMETRY_LDM_BENCH_SAMPLER)
  : null;

/** GEOMETRY_LDM_BENCH_PROBE_T: the noise levels to probe (integers in [1, T - 1]), or []. */
function probeTimesteps(text, T) {
  if (text === undefined || text === '') return [];
  const ts = text.split(',').map(Number);
  if (!ts.every((t) => Number.isInteger(t) && t >= 1 && t < T)) {
    throw new Error(`GEOMETRY_LDM_BENCH_PROBE_T '${text}': integers in [1, ${T - 1}], e.g. 100,300,600`);
  }
  return ts;
}
const PROBE_SAMPLES = Number(process.env.GEOMETRY_LDM_BENCH_PROBE_SAMPLES ?? 2);
if (!(Number.isInteger(PROBE_SAMPLES) && PROBE_SAMPLES >= 1)) {
  throw new Error(
    `GEOMETRY_LDM_BENCH_PROBE_SAMPLES '${process.env.GEOMETRY_LDM_BENCH_PROBE_SAMPLES}': a positive integer`,
  );
}

/** The resolved geometry of a request (a 1-step generation: only its geometry is used). */
async function geometryOf(E, model, geometry) {
  return E.generate(model, { geometry, seed: 'geometry', sampler: { kind: 'ddim', steps: 1 }, samples: 1 });
}

export default {
  name: 'generation-quality',
  description: 'generated vs held-out real CT at the same geometry: HU-histogram Wasserstein-1 (HU)',
  async run(ctx) {
    const dir = path.resolve(ctx.root, process.env.GEOMETRY_LDM_BENCH_MODEL ?? 'models/geometry-ldm-demo');
    if (!existsSync(path.join(dir, 'model.json'))) throw new Error(`no model at ${dir}`);
    const data = path.resolve(process.env.SHARED_DATA ?? path.join(ctx.root, '..', 'shared', 'data'));
    const { module: E } = await ctx.bundle('scripts/bench/generation-quality-entry.ts');
    const { module: L } = await ctx.bundle('scripts/bench/engine-entry.ts');
    const model = await L.load(dir, 'node', 2, ctx.root);
    const PROBE_T = probeTimesteps(
      process.env.GEOMETRY_LDM_BENCH_PROBE_T,
      model.manifest.scheduler.numTrainTimesteps,
    );
    const scans = referenceScans(ctx.root, process.env.GEOMETRY_LDM_BENCH_REFERENCES).map((s) => {
      const p = path.join(data, s.rel);
      const volume = s.kind === 'dicom' ? E.loadDicomTruth(p, 512) : E.loadNiftiTruth(p);
      return { ...s, volume: s.slices ? E.slab(volume, s.slices[0], s.slices[1]) : volume };
    });
    const rows = [];
    const generated = [];
    const real = [];
    try {
      for (const [label, geometry] of CASES) {
        const crops = [];
        for (const scan of scans) {
          const resolved = (await geometryOf(E, model, geometry)).geometry;
          const crop = E.realAtGeometry(scan.volume, resolved);
          crops.push(crop);
          real.push(crop);
          // the autoencoder's own ceiling: the real crop encoded and decoded (the latent is kept
          // for the noise-level probe below)
          const encoded = await E.encodeCrop(model, crop, resolved);
          const round = (await E.autoencoderRoundTrip(model, crop, resolved, encoded)).data;
          const ae = E.wasserstein1(round, crop.data);
          const w1s = [];
          const bones = [];
          const lungs = [];
          const skeletons = [];
          const cropHist = E.huHistogram(crop.data); // once per crop, not per sample
          const bandParts = [];
          const sampleShares = [];
          const times = [];
          for (let k = 0; k < SAMPLES; k++) {
            const t0 = performance.now();
            const r = await E.generate(model, {
              geometry,
              seed: SEED_SET
                ? `generation-quality/${SEED_SET}/${scan.name}/${label}/${k}`
                : k === 0
                  ? `generation-quality/${scan.name}/${label}`
                  : `generation-quality/${scan.name}/${label}/${k}`,
              sampler: SAMPLER ?? { kind: 'ddim', steps: model.manifest.generation.ddimSteps },
              samples: 1,
            });
            times.push(performance.now() - t0);
            if (k === 0) generated.push(r.samples[0].volume);
            w1s.push(E.wasserstein1(r.samples[0].volume.data, crop.data));
            bones.push(E.boneFraction(r.samples[0].volume.data));
            lungs.push(E.lungShape(r.samples[0].volume.data, r.samples[0].volume.dims));
            skeletons.push(E.boneShape(r.samples[0].volume.data, r.samples[0].volume.dims).largestShare);
            const hist = E.huHistogram(r.samples[0].volume.data);
            bandParts.push(E.w1ByBandOf(hist, cropHist));
            sampleShares.push(E.bandSharesOf(hist));
          }
          const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
          const bone = avg(bones);
          const realBone = E.boneFraction(crop.data);
          const realLung = E.lungShape(crop.data, crop.dims);
          const lung = {
            fraction: +avg(lungs.map((l) => l.lungFraction)).toFixed(4),
            realFraction: +realLung.lungFraction.toFixed(4),
            fragmentation: +avg(lungs.map((l) => l.fragmentation)).toFixed(4),
            realFragmentation: +realLung.fragmentation.toFixed(4),
            // how dark the lungs and the air around the body are (samples: mean over those with lungs)
            meanHu: +avg(lungs.filter((l) => l.lungFraction > 0).map((l) => l.meanHu)).toFixed(0),
            realMeanHu: +realLung.meanHu.toFixed(0),
            outsideMeanHu: +avg(lungs.map((l) => l.outsideMeanHu)).toFixed(0),
            realOutsideMeanHu: +realLung.outsideMeanHu.toFixed(0),
          };
          const skeleton = {
            largestShare: +avg(skeletons).toFixed(4),
            realLargestShare: +E.boneShape(crop.data, crop.dims).largestShare.toFixed(4),
            // the decoder's own ceiling for the skeleton, as autoencoderW1Hu is for the histogram
            autoencoderLargestShare: +E.boneShape(round, crop.dims).largestShare.toFixed(4),
          };
          if (PROBE_T.length > 0) {
            skeleton.fromT = [];
            for (const t of PROBE_T) {
              const shares = [];
              for (let k = 0; k < PROBE_SAMPLES; k++) {
                const v = await E.noisedRoundTrip(
                  model,
                  crop,
                  resolved,
                  encoded,
                  t,
                  `probe/${scan.name}/${label}/${t}/${k}`,
                );
                shares.push(E.boneShape(v.data, v.dims).largestShare);
              }
              skeleton.fromT.push({ t, largestShare: +avg(shares).toFixed(4) });
            }
          }
          // where the distance is lost: each HU band's part of W1 and its share of the voxels
          // (and the same for the round trip: what the decoder alone loses there)
          const realShares = E.bandSharesOf(cropHist);
          const roundHist = E.huHistogram(round);
          const roundParts = E.w1ByBandOf(roundHist, cropHist);
          const roundShares = E.bandSharesOf(roundHist);
          const bands = E.HU_BANDS.map((b, i) => ({
            band: b.name,
            w1Hu: +avg(bandParts.map((p) => p[i])).toFixed(1),
            share: +avg(sampleShares.map((s) => s[i])).toFixed(4),
            realShare: +realShares[i].toFixed(4),
            autoencoderW1Hu: +roundParts[i].toFixed(1),
            autoencoderShare: +roundShares[i].toFixed(4),
          }));
          const mean = avg(w1s);
          const ms = avg(times);
          rows.push({
            case: `${label}, vs ${scan.name}`,
            medianMs: ms,
            runsMs: times,
            w1Hu: +mean.toFixed(1),
            w1RangeHu: [+Math.min(...w1s).toFixed(1), +Math.max(...w1s).toFixed(1)],
            samples: SAMPLES,
            autoencoderW1Hu: +ae.toFixed(1),
            boneFraction: +bone.toFixed(4),
            realBoneFraction: +realBone.toFixed(4),
            autoencoderBoneFraction: +E.boneFraction(round).toFixed(4),
            lung,
            skeleton,
            bands,
          });
          ctx.log(
            `${label} vs ${scan.name}: W1 ${mean.toFixed(1)} HU (mean of ${SAMPLES}, ${Math.min(...w1s).toFixed(1)}-${Math.max(...w1s).toFixed(1)}; ${(ms / 1000).toFixed(1)} s each); autoencoder round trip ${ae.toFixed(1)} HU; bone (>= 200 HU) ${(100 * bone).toFixed(1)} % of the body vs real ${(100 * realBone).toFixed(1)} %; lung ${(100 * lung.fraction).toFixed(1)} % of the grid vs real ${(100 * lung.realFraction).toFixed(1)} %, fragmented ${(100 * lung.fragmentation).toFixed(1)} % vs real ${(100 * lung.realFragmentation).toFixed(1)} %; bone in its largest component ${(100 * skeleton.largestShare).toFixed(1)} % vs real ${(100 * skeleton.realLargestShare).toFixed(1)} % (round trip ${(100 * skeleton.autoencoderLargestShare).toFixed(1)} %)`,
          );
          if (skeleton.fromT) {
            ctx.log(
              `  bone in its largest component from t: ${skeleton.fromT.map((p) => `${p.t} ${(100 * p.largestShare).toFixed(1)} %`).join(', ')}`,
            );
          }
          ctx.log(
            `  lungs ${lung.meanHu} HU vs real ${lung.realMeanHu}; air around the body ${lung.outsideMeanHu} HU vs real ${lung.realOutsideMeanHu}`,
          );
          ctx.log(
            `  W1 by band: ${bands.map((b) => `${b.band} ${b.w1Hu} HU (round trip ${b.autoencoderW1Hu}; voxels ${(100 * b.share).toFixed(1)} % vs real ${(100 * b.realShare).toFixed(1)} %, round trip ${(100 * b.autoencoderShare).toFixed(1)} %)`).join('; ')}`,
          );
        }
        const floor = E.wasserstein1(crops[0].data, crops[1].data);
        rows.push({
          case: `${label}, real vs real (floor)`,
          medianMs: 0,
          runsMs: [0],
          w1Hu: +floor.toFixed(1),
        });
        ctx.log(`${label}: real vs real W1 ${floor.toFixed(1)} HU`);
      }
    } finally {
      await model.release();
    }
    const baselinePath = process.env.GEOMETRY_LDM_BENCH_BASELINE;
    let baseline;
    if (baselinePath) {
      const p = path.resolve(ctx.root, baselinePath);
      const file = statSync(p).isDirectory() ? path.join(p, 'metrics.json') : p;
      baseline = E.generationBaseline(JSON.parse(readFileSync(file, 'utf8')));
    }
    const summary = E.summarizeGeneration(
      rows.filter((r) => r.boneFraction !== undefined),
      baseline,
    );
    const b = summary.baseline;
    ctx.log(
      `mean of the ${summary.cases} cases: W1 ${summary.meanW1Hu.toFixed(1)} HU, bone gap ${summary.boneGapPp.toFixed(2)} pp, lung gap ${summary.lungGapPp.toFixed(2)} pp, fragmentation gap ${summary.fragmentationGapPp.toFixed(2)} pp, skeleton gap ${summary.skeletonGapPp.toFixed(2)} pp (round trip ${summary.autoencoderSkeletonGapPp.toFixed(2)} pp)` +
        (b
          ? `; baseline (${baselinePath}) ${b.meanW1Hu.toFixed(1)} HU, lower on ${b.lower} of ${summary.cases}, worst ${b.worstRatio.toFixed(2)}x (${b.worstCase})`
          : ''),
    );
    if (summary.skeletonGapFromTPp) {
      ctx.log(
        `skeleton gap from t: ${summary.skeletonGapFromTPp.map((p) => `${p.t} ${p.gapPp.toFixed(2)} pp`).join(', ')}`,
      );
    }
    rows.push({
      case: `mean of the ${summary.cases} cases`,
      medianMs: 0,
      runsMs: [0],
      w1Hu: +summary.meanW1Hu.toFixed(1),
      boneGapPp: +summary.boneGapPp.toFixed(2),
      lungGapPp: +summary.lungGapPp.toFixed(2),
      fragmentationGapPp: +summary.fragmentationGapPp.toFixed(2),
      skeletonGapPp: +summary.skeletonGapPp.toFixed(2),
      ...(summary.skeletonGapFromTPp
        ? {
            skeletonGapFromTPp: summary.skeletonGapFromTPp.map((p) => ({
              t: p.t,
              gapPp: +p.gapPp.toFixed(2),
            })),
          }
        : {}),
      ...(b
        ? { baseline: { ...b, meanW1Hu: +b.meanW1Hu.toFixed(1), worstRatio: +b.worstRatio.toFixed(3) } }
        : {}),
    });
    const imagesDir = process.env.GEOMETRY_LDM_BENCH_IMAGES;
    if (imagesDir) {
      mkdirSync(imagesDir, { recursive: true });
      // coronal (the model card's pictures), sagittal (the spine's midline) and axial (ribs)
      const planes = [
        ['generation-vs-real.png', 1],
        ['generation-vs-real-sagittal.png', 2],
        ['generation-vs-real-axial.png', 0],
      ];
      for (const [name, plane] of planes) {
        const row = (vs) => vs.map((v) => E.midSlices(v)[plane]);
        writeFileSync(path.join(imagesDir, name), E.png(E.montage([row(generated), row(real)])));
      }
    }
    return rows;
  },
};
