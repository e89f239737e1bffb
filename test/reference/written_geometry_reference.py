#!/usr/bin/python3
"""Independent geometry read of written CT instances (pydicom + numpy only).

For every Part 10 file in DIR, computes the patient-space position of sampled
voxels from the file's own ImagePositionPatient, ImageOrientationPatient and
PixelSpacing, exactly as PS3.3 C.7.6.2.1.1 defines them:

    P(r, c) = IPP + c * PixelSpacing[1] * X + r * PixelSpacing[0] * Y

with X = IOP[0:3] (direction of increasing column index c, along a row),
Y = IOP[3:6] (direction of increasing row index r, down a column),
PixelSpacing[0] = spacing between rows, PixelSpacing[1] = spacing between
columns. It also gives the HU value stored at each sampled voxel
(pixel_array * RescaleSlope + RescaleIntercept), so a writer and reader that
both swapped rows and columns (or X and Y) consistently are caught: the
positions, or the values found there, would not match the intended volume.

Samples: a 5 x 5 lattice of (r, c) per slice, corners included.
Prints JSON: [{file, sop, instanceNumber, rows, columns, ipp, iop,
pixelSpacing, sliceThickness, spacingBetweenSlices, samples: [{r, c, pos, hu}]}].

Usage: written_geometry_reference.py DIR
"""
import json
import os
import sys

import numpy as np
import pydicom


def lattice(n: int) -> list:
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, 5)})


def main() -> None:
    folder = sys.argv[1]
    out = []
    for name in sorted(os.listdir(folder)):
        ds = pydicom.dcmread(os.path.join(folder, name))
        ipp = np.array([float(x) for x in ds.ImagePositionPatient])
        iop = np.array([float(x) for x in ds.ImageOrientationPatient])
        ps = [float(x) for x in ds.PixelSpacing]
        x_dir, y_dir = iop[:3], iop[3:]
        hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        samples = []
        for r in lattice(int(ds.Rows)):
            for c in lattice(int(ds.Columns)):
                pos = ipp + c * ps[1] * x_dir + r * ps[0] * y_dir
                samples.append({"r": r, "c": c, "pos": pos.tolist(), "hu": float(hu[r, c])})
        out.append(
            {
                "file": name,
                "sop": str(ds.SOPInstanceUID),
                "instanceNumber": int(ds.InstanceNumber),
                "rows": int(ds.Rows),
                "columns": int(ds.Columns),
                "ipp": ipp.tolist(),
                "iop": iop.tolist(),
                "pixelSpacing": ps,
                "sliceThickness": float(ds.SliceThickness) if "SliceThickness" in ds else None,
                "spacingBetweenSlices": float(ds.SpacingBetweenSlices) if "SpacingBetweenSlices" in ds else None,
                "samples": samples,
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
