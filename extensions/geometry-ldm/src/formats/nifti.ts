/**
 * NIfTI-1 (.nii) writer for Volumes: float32 data, sform = qform from the
 * affine. NIfTI's world space is RAS+, ours is LPS+ (DICOM), so the affine is
 * flipped on x and y: RAS = diag(-1, -1, 1) * LPS. Voxel order is the same
 * (i fastest), so the data is written as is.
 */
import { compose, type Affine } from '../geometry/affine';
import type { Volume } from '../volume/volume';

const LPS_TO_RAS: Affine = [-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** Unit quaternion (b, c, d) and qfac of a rotation matrix (NIfTI-1 method 2), after nifti1_io. */
function quaternion(r: number[][]): { b: number; c: number; d: number; qfac: number } {
  let qfac = 1;
  const det =
    r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) -
    r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0]) +
    r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
  if (det < 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) r[i][2] = -r[i][2];
  }
  const a = r[0][0] + r[1][1] + r[2][2] + 1;
  let qa: number, qb: number, qc: number, qd: number;
  if (a > 0.5) {
    qa = 0.5 * Math.sqrt(a);
    qb = (0.25 * (r[2][1] - r[1][2])) / qa;
    qc = (0.25 * (r[0][2] - r[2][0])) / qa;
    qd = (0.25 * (r[1][0] - r[0][1])) / qa;
  } else {
    const xd = 1 + r[0][0] - (r[1][1] + r[2][2]);
    const yd = 1 + r[1][1] - (r[0][0] + r[2][2]);
    const zd = 1 + r[2][2] - (r[0][0] + r[1][1]);
    if (xd > 1) {
      qb = 0.5 * Math.sqrt(xd);
      qc = (0.25 * (r[0][1] + r[1][0])) / qb;
      qd = (0.25 * (r[0][2] + r[2][0])) / qb;
      qa = (0.25 * (r[2][1] - r[1][2])) / qb;
    } else if (yd > 1) {
      qc = 0.5 * Math.sqrt(yd);
      qb = (0.25 * (r[0][1] + r[1][0])) / qc;
      qd = (0.25 * (r[1][2] + r[2][1])) / qc;
      qa = (0.25 * (r[0][2] - r[2][0])) / qc;
    } else {
      qd = 0.5 * Math.sqrt(zd);
      qb = (0.25 * (r[0][2] + r[2][0])) / qd;
      qc = (0.25 * (r[1][2] + r[2][1])) / qd;
      qa = (0.25 * (r[1][0] - r[0][1])) / qd;
    }
    if (qa < 0) {
      qb = -qb;
      qc = -qc;
      qd = -qd;
    }
  }
  return { b: qb, c: qc, d: qd, qfac };
}

export function volumeToNifti(volume: Volume, description = ''): Uint8Array {
  const [nx, ny, nz] = volume.dims;
  const ras = compose(LPS_TO_RAS, volume.affine);
  const header = new ArrayBuffer(352);
  const v = new DataView(header);
  v.setInt32(0, 348, true); // sizeof_hdr
  v.setInt16(40, 3, true); // dim[0]
  v.setInt16(42, nx, true);
  v.setInt16(44, ny, true);
  v.setInt16(46, nz, true);
  v.setInt16(48, 1, true);
  v.setInt16(50, 1, true);
  v.setInt16(52, 1, true);
  v.setInt16(54, 1, true);
  v.setInt16(70, 16, true); // datatype FLOAT32
  v.setInt16(72, 32, true); // bitpix
  // pixdim: spacing = column norms of the affine; pixdim[0] = qfac
  const spacing = [0, 1, 2].map((c) => Math.hypot(ras[c], ras[4 + c], ras[8 + c]));
  const rot = [0, 1, 2].map((r) => [0, 1, 2].map((c) => ras[r * 4 + c] / spacing[c]));
  const q = quaternion(rot);
  v.setFloat32(76, q.qfac, true);
  spacing.forEach((s, a) => v.setFloat32(80 + 4 * a, s, true));
  v.setFloat32(108, 352, true); // vox_offset
  v.setFloat32(112, 1, true); // scl_slope
  v.setFloat32(116, 0, true); // scl_inter
  v.setUint8(123, 2 + 8); // xyzt_units: mm + s
  const desc = new TextEncoder().encode(description.slice(0, 79));
  new Uint8Array(header, 148, 80).set(desc);
  v.setInt16(252, 1, true); // qform_code: scanner
  v.setInt16(254, 1, true); // sform_code: scanner
  v.setFloat32(256, q.b, true);
  v.setFloat32(260, q.c, true);
  v.setFloat32(264, q.d, true);
  v.setFloat32(268, ras[3], true);
  v.setFloat32(272, ras[7], true);
  v.setFloat32(276, ras[11], true);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 4; c++) v.setFloat32(280 + r * 16 + c * 4, ras[r * 4 + c], true);
  new Uint8Array(header, 344, 4).set([0x6e, 0x2b, 0x31, 0x00]); // "n+1\0"
  const out = new Uint8Array(352 + volume.data.byteLength);
  out.set(new Uint8Array(header), 0);
  // Little-endian float32 regardless of the host (every JS host in use is LE; DataView keeps it explicit).
  const body = new DataView(out.buffer, 352);
  for (let n = 0; n < volume.data.length; n++) body.setFloat32(4 * n, volume.data[n], true);
  return out;
}
