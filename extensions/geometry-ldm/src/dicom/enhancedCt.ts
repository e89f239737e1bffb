/**
 * Enhanced CT and Legacy Converted Enhanced CT (one instance, many frames) as
 * slices: each frame becomes an InstanceHeader of its own, with the geometry
 * and rescale of its functional groups (PS3.3 C.7.6.16), so the slice reader
 * (geometry, holes, localizers, rescale checks, decoding) treats a multi-frame
 * series exactly like a series of single-frame slices.
 *
 * Per frame, each functional group comes from the Per-frame Functional Groups
 * Sequence (5200,9230) item of that frame, else from the Shared Functional
 * Groups Sequence (5200,9229), else (Legacy Converted, where converters keep
 * some attributes at the top level) from the dataset itself:
 * - Plane Position (Patient) (0020,9113) -> ImagePositionPatient
 * - Plane Orientation (Patient) (0020,9116) -> ImageOrientationPatient
 * - Pixel Measures (0028,9110) -> PixelSpacing, SliceThickness, SpacingBetweenSlices
 * - Pixel Value Transformation (0028,9145) -> RescaleIntercept, RescaleSlope
 * - CT Image Frame Type (0018,9329) -> FrameType (its value 3 LOCALIZER marks a scout frame)
 * Frames are fetched by number (WADO-RS .../frames/{frameNumber}).
 */
import { items, num, nums, strs, type DicomJsonDataset } from './dicomJson';
import { DicomError } from './errors';
import { MULTI_FRAME_CT, type InstanceHeader } from './instanceMetadata';

const FG = {
  shared: '52009229',
  perFrame: '52009230',
  planePosition: '00209113',
  planeOrientation: '00209116',
  pixelMeasures: '00289110',
  pixelValueTransformation: '00289145',
  ctFrameType: '00189329',
} as const;

const TAGS = {
  ImagePositionPatient: '00200032',
  ImageOrientationPatient: '00200037',
  PixelSpacing: '00280030',
  SliceThickness: '00180050',
  SpacingBetweenSlices: '00180088',
  RescaleIntercept: '00281052',
  RescaleSlope: '00281053',
  FrameType: '00089007',
} as const;

/** Whether an instance is a multi-frame CT whose frames are read as slices. */
export function isEnhancedCt(h: InstanceHeader): boolean {
  return h.sopClassUid != null && MULTI_FRAME_CT.has(h.sopClassUid) && h.frameNumber == null;
}

/**
 * The frames of an Enhanced / Legacy Converted Enhanced CT instance as slice headers (frame
 * numbers 1..NumberOfFrames); any other instance is returned as it is.
 */
export function expandEnhancedFrames(h: InstanceHeader): InstanceHeader[] {
  if (!isEnhancedCt(h)) return [h];
  const id = h.sopInstanceUid ?? 'instance';
  const n = h.numberOfFrames;
  const perFrame = items(h.json, FG.perFrame);
  if (perFrame.length !== n) {
    throw new DicomError(
      'missing-geometry',
      `instance ${id}: NumberOfFrames is ${n} but the Per-frame Functional Groups Sequence has ${perFrame.length} items`,
      { instance: id, numberOfFrames: n, perFrameItems: perFrame.length },
    );
  }
  const shared = items(h.json, FG.shared)[0] ?? {};
  return perFrame.map((frame, k) => {
    /** The first item of a functional group macro: this frame's, else the shared one, else none. */
    const group = (tag: string): DicomJsonDataset | null =>
      items(frame, tag)[0] ?? items(shared, tag)[0] ?? null;
    const from = (groupTag: string, tag: string): DicomJsonDataset => {
      const g = group(groupTag);
      return g && g[tag] !== undefined ? g : h.json;
    };
    const position = nums(from(FG.planePosition, TAGS.ImagePositionPatient), TAGS.ImagePositionPatient);
    const orientation = nums(
      from(FG.planeOrientation, TAGS.ImageOrientationPatient),
      TAGS.ImageOrientationPatient,
    );
    const spacing = nums(from(FG.pixelMeasures, TAGS.PixelSpacing), TAGS.PixelSpacing);
    const frameType = strs(from(FG.ctFrameType, TAGS.FrameType), TAGS.FrameType);
    const rescale = from(FG.pixelValueTransformation, TAGS.RescaleSlope);
    const intercept = from(FG.pixelValueTransformation, TAGS.RescaleIntercept);
    return {
      ...h,
      frameNumber: k + 1,
      imageType: frameType.length > 0 ? frameType : h.imageType,
      imagePositionPatientMm:
        position && position.length === 3 ? [position[0], position[1], position[2]] : null,
      imageOrientationPatient: orientation && orientation.length === 6 ? orientation : null,
      pixelSpacingMm: spacing && spacing.length === 2 ? [spacing[0], spacing[1]] : null,
      sliceThicknessMm: num(from(FG.pixelMeasures, TAGS.SliceThickness), TAGS.SliceThickness),
      spacingBetweenSlicesMm: num(
        from(FG.pixelMeasures, TAGS.SpacingBetweenSlices),
        TAGS.SpacingBetweenSlices,
      ),
      rescaleSlope: num(rescale, TAGS.RescaleSlope),
      rescaleIntercept: num(intercept, TAGS.RescaleIntercept),
      // the rescale checks report raw values from here when a number is missing
      json: {
        ...h.json,
        [TAGS.RescaleSlope]: rescale[TAGS.RescaleSlope] ?? { vr: 'DS' },
        [TAGS.RescaleIntercept]: intercept[TAGS.RescaleIntercept] ?? { vr: 'DS' },
      },
    };
  });
}

/** Names a slice in messages: its SOP Instance UID, with the frame number for a multi-frame instance. */
export function sliceName(h: InstanceHeader): string | null {
  if (h.sopInstanceUid == null) return null;
  return h.frameNumber != null ? `${h.sopInstanceUid} frame ${h.frameNumber}` : h.sopInstanceUid;
}
