/**
 * @jest-environment ./models/training/ortJestEnvironment.cjs
 */
/**
 * The shipped refiner reaches no further than REFINER_BODY_BOX's margin: on real CT with air in
 * front of the body, refining only the body box gives the whole volume's result on every voxel of
 * the body (the box and its blend only touch air). A margin shorter than the network's reach
 * does not, which shows the comparison can fail.
 */
import * as ort from 'onnxruntime-node';
import type { Dims3 } from '../../extensions/geometry-ldm/src/geometry/conventions';
import type { LoadedModel } from '../../extensions/geometry-ldm/src/inference/modelSessions';
import {
  REFINER_BODY_BOX,
  refineVolume,
  type PlanePass,
} from '../../extensions/geometry-ldm/src/inference/refiner';
import { bodyBox } from '../../extensions/geometry-ldm/src/volume/bodyBox';
import { demoModel } from '../support/demoModel';
import { realCrop } from '../support/realCrop';
import { loadOnOrtNode } from '../support/tinyModel';

let model: LoadedModel;
beforeAll(async () => {
  model = await loadOnOrtNode(demoModel(), ort);
}, 120000);
afterAll(async () => {
  await model?.release();
});

describe('the shipped refiner inside the body box', () => {
  // rows 30-129 of lung-pet-ct-dx-a0002 at columns 236-275: air, then the anterior body wall
  const src = realCrop([236, 30, 9], [40, 100, 6]);
  const dims: Dims3 = src.dims;
  const x = src.data;
  // planes (j, i) with j the degraded axis (2x, box), as a 2x slice-thickening would make them
  const pass: PlanePass = {
    rows: 1,
    cols: 0,
    normal: 2,
    flipRows: true,
    flipCols: false,
    features: new Float32Array([0.5, 0.5, 0, 0, 0.25, 0.25, 0, 0, 0.25, 0.25, 0, 0]),
  };
  const body = bodyBox(x, dims, { ...REFINER_BODY_BOX, marginVoxels: 0 })!;
  /** Largest |a - b| (HU) over the body's bounding box. */
  const bodyDiff = (a: Float32Array, b: Float32Array) => {
    let m = 0;
    for (let k = body.start[2]; k < body.start[2] + body.dims[2]; k++)
      for (let j = body.start[1]; j < body.start[1] + body.dims[1]; j++)
        for (let i = body.start[0]; i < body.start[0] + body.dims[0]; i++) {
          const q = (k * dims[1] + j) * dims[0] + i;
          m = Math.max(m, Math.abs(a[q] - b[q]));
        }
    return m;
  };

  it("gives the whole volume's result on the body; a margin short of its reach does not", async () => {
    const refiner = model.refiner!;
    const box = bodyBox(x, dims, REFINER_BODY_BOX)!;
    // the crop has more air in front of the body than the margin: the box skips some
    expect(box.start[1]).toBeGreaterThan(0);
    expect(body.start[1]).toBeGreaterThanOrEqual(REFINER_BODY_BOX.marginVoxels + 8);
    const whole = await refineVolume(refiner, x, dims, pass);
    const boxed = await refineVolume(refiner, x, dims, pass, {
      box,
      blendVoxels: REFINER_BODY_BOX.blendVoxels,
    });
    const short = await refineVolume(refiner, x, dims, pass, {
      box: bodyBox(x, dims, { ...REFINER_BODY_BOX, marginVoxels: 6 }),
    });
    const exact = bodyDiff(whole, boxed);
    const cut = bodyDiff(whole, short);
    console.log(
      `body box rows from ${box.start[1]} (body from ${body.start[1]}): |whole - boxed| <= ${exact.toFixed(5)} HU on the body, margin 6: ${cut.toFixed(2)} HU`,
    );
    expect(exact).toBeLessThan(0.01);
    expect(cut).toBeGreaterThan(0.1);
    // the refiner did change the body (the comparison is not between two copies of the input)
    expect(
      bodyDiff(
        whole,
        x.map((v) => Math.min(3071, Math.max(-1024, v))),
      ),
    ).toBeGreaterThan(1);
  }, 120000);

  it("refined over each plane group's columns: the same on every body voxel; a short margin is not", async () => {
    // rows 60-149 of the series at columns 60-123: air, then the curved anterior-left body wall
    // (its first row moves from about 128 at column 60 to 96 at column 124); planes through i
    // (the normal) span k and j (the columns, mirrored), so each plane's body starts at its own j
    const crop = realCrop([60, 60, 9], [64, 90, 6]);
    const d: Dims3 = crop.dims;
    const v = crop.data;
    const through: PlanePass = { ...pass, rows: 2, cols: 1, normal: 0, flipRows: false, flipCols: true };
    const widths = new Set<number>();
    const inner = model.refiner!;
    const refiner: typeof inner = {
      ...inner,
      run: (feeds) => {
        widths.add((feeds.planes as { dims: readonly number[] }).dims[3]);
        return inner.run(feeds);
      },
    };
    const rule = REFINER_BODY_BOX;
    const run = (margin: number) =>
      refineVolume(refiner, v, d, through, {
        box: bodyBox(v, d, { ...rule, marginVoxels: margin }),
        blendVoxels: rule.blendVoxels,
        planeColumns: { ...rule, marginVoxels: margin },
      });
    const whole = await refineVolume(inner, v, d, through);
    widths.clear();
    const cropped = await run(rule.marginVoxels);
    const box = bodyBox(v, d, rule)!;
    // planes of different widths, some narrower than the box
    expect(widths.size).toBeGreaterThan(1);
    expect(Math.min(...widths)).toBeLessThan(box.dims[1]);
    const short = await run(6);
    /** Largest |a - b| (HU) over the body voxels (above -500 HU). */
    const onBody = (a: Float32Array, b: Float32Array) => {
      let m = 0;
      for (let q = 0; q < v.length; q++) if (v[q] > rule.aboveHu) m = Math.max(m, Math.abs(a[q] - b[q]));
      return m;
    };
    const exact = onBody(whole, cropped);
    const cut = onBody(whole, short);
    console.log(
      `plane columns: widths ${[...widths].sort((a, b) => a - b).join(', ')} of ${box.dims[1]}; |whole - cropped| <= ${exact.toFixed(5)} HU on the body, margin 6: ${cut.toFixed(2)} HU`,
    );
    expect(exact).toBeLessThan(0.01);
    expect(cut).toBeGreaterThan(0.1);
  }, 120000);
});
