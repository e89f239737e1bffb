import { planSuperResolutionTarget } from './superResolutionTarget';

// 512 x 512 x 30 at 0.841796875 x 0.841796875 x 8 mm, axial
const source = {
  dims: [512, 512, 30] as const,
  affine: [0.841796875, 0, 0, -200, 0, 0.841796875, 0, -210, 0, 0, 8, 40, 0, 0, 0, 1],
};

test('a target spacing equal to the source within half a percent keeps that axis', () => {
  // 0.842 typed for 0.841796875 mm: kept, not refused as "coarser"
  const plan = planSuperResolutionTarget(source, { kind: 'spacing', spacingMm: [0.842, 0.842, 2] }, 1);
  expect(plan.output.dims).toEqual([512, 512, 120]); // the same box: 30 slices x 8 mm / 2 mm
  expect(plan.output.affine[0]).toBeCloseTo(0.841796875, 12);
  expect(plan.output.affine[5]).toBeCloseTo(0.841796875, 12);
});

test('a really coarser target is refused in words a user knows (no internal axis names)', () => {
  expect(() => planSuperResolutionTarget(source, { kind: 'spacing', spacingMm: [0.85, 0.8, 2] }, 1)).toThrow(
    /target spacing 0\.850 mm between columns \(x\) is coarser than the source's 0\.842 mm: .*give the source's spacing to keep that axis/,
  );
});
