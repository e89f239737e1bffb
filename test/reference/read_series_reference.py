#!/usr/bin/python3
"""Independent reference reader for the DICOMweb tests.

Reads a folder of single-frame CT files from disk with pydicom (no DICOMweb,
no dcmjs, no Cornerstone codecs), orders the slices along the normal
N = X x Y of ImageOrientationPatient, decodes the pixels, applies BitsStored
(mask / sign extension) and RescaleSlope/Intercept (float64, stored as float32),
and prints JSON with the grid, the sorted ImagePositionPatient values and a
SHA-256 of each slice's float32 little-endian HU values (plus the whole volume).

Decoders: pydicom's numpy handler for native transfer syntaxes and its RLE
handler for RLE. pydicom here has no JPEG 2000 / JPEG-LS / JPEG lossless
decoder (no GDCM, Pillow or pylibjpeg), so for JPEG 2000 this script calls
the system OpenJPEG library (libopenjp2.so.7, Debian build) through ctypes on
each frame's codestream (extracted by pydicom.encaps). That is a different
build and pipeline from the product's (Cornerstone's OpenJPEG compiled to
wasm), but the same library lineage: stated in the tests.

Usage: read_series_reference.py DIR [--raw OUT.f32]
"""
import ctypes
import glob
import hashlib
import json
import os
import sys
import tempfile

import numpy as np
import pydicom
from pydicom.encaps import generate_pixel_data_frame

JPEG2000 = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"}


class _Comp(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("dx", "dy", "w", "h", "x0", "y0", "prec", "bpp", "sgnd", "resno_decoded", "factor")] + [
        ("data", ctypes.POINTER(ctypes.c_int32)),
        ("alpha", ctypes.c_uint16),
    ]


class _Image(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("x0", "y0", "x1", "y1", "numcomps")] + [
        ("color_space", ctypes.c_int),
        ("comps", ctypes.POINTER(_Comp)),
        ("icc_profile_buf", ctypes.c_void_p),
        ("icc_profile_len", ctypes.c_uint32),
    ]


def decode_j2k(codestream: bytes) -> np.ndarray:
    lib = ctypes.CDLL("libopenjp2.so.7")
    lib.opj_stream_create_default_file_stream.restype = ctypes.c_void_p
    lib.opj_stream_create_default_file_stream.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.opj_create_decompress.restype = ctypes.c_void_p
    lib.opj_create_decompress.argtypes = [ctypes.c_int]
    lib.opj_set_default_decoder_parameters.argtypes = [ctypes.c_void_p]
    lib.opj_setup_decoder.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.opj_read_header.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.POINTER(_Image))]
    lib.opj_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(_Image)]
    lib.opj_end_decompress.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.opj_image_destroy.argtypes = [ctypes.POINTER(_Image)]
    lib.opj_stream_destroy.argtypes = [ctypes.c_void_p]
    lib.opj_destroy_codec.argtypes = [ctypes.c_void_p]
    is_jp2 = codestream[4:8] == b"jP  "
    with tempfile.NamedTemporaryFile(suffix=".jp2" if is_jp2 else ".j2k", delete=False) as f:
        f.write(codestream)
        name = f.name
    try:
        stream = lib.opj_stream_create_default_file_stream(name.encode(), 1)
        codec = lib.opj_create_decompress(2 if is_jp2 else 0)
        params = ctypes.create_string_buffer(1 << 16)
        lib.opj_set_default_decoder_parameters(params)
        if not lib.opj_setup_decoder(codec, params):
            raise RuntimeError("opj_setup_decoder failed")
        img = ctypes.POINTER(_Image)()
        if not lib.opj_read_header(stream, codec, ctypes.byref(img)):
            raise RuntimeError("opj_read_header failed")
        if not lib.opj_decode(codec, stream, img) or not lib.opj_end_decompress(codec, stream):
            raise RuntimeError("opj_decode failed")
        comp = img.contents.comps[0]
        n = comp.w * comp.h
        arr = np.ctypeslib.as_array(comp.data, shape=(n,)).astype(np.int64).reshape(comp.h, comp.w).copy()
        lib.opj_image_destroy(img)
        lib.opj_destroy_codec(codec)
        lib.opj_stream_destroy(stream)
        return arr
    finally:
        os.unlink(name)


def stored_values(ds) -> np.ndarray:
    ts = str(ds.file_meta.TransferSyntaxUID)
    if ts in JPEG2000:
        frames = list(generate_pixel_data_frame(ds.PixelData, 1))
        arr = decode_j2k(frames[0])
    else:
        arr = ds.pixel_array.astype(np.int64)
    bits = int(ds.BitsStored)
    alloc = int(ds.BitsAllocated)
    signed = int(ds.PixelRepresentation) == 1
    if bits < alloc:
        arr = arr & ((1 << bits) - 1)
        if signed:
            arr = np.where(arr >= (1 << (bits - 1)), arr - (1 << bits), arr)
    elif signed and alloc == 16:
        arr = arr.astype(np.uint16).astype(np.int16).astype(np.int64)
    return arr


def main() -> None:
    folder = sys.argv[1]
    raw_out = sys.argv[sys.argv.index("--raw") + 1] if "--raw" in sys.argv else None
    files = sorted(f for f in glob.glob(os.path.join(folder, "*")) if os.path.isfile(f))
    dss = [pydicom.dcmread(f) for f in files]
    iop = np.array([float(v) for v in dss[0].ImageOrientationPatient])
    x, y = iop[:3], iop[3:]
    normal = np.cross(x, y)
    dist = [float(np.dot(np.array([float(v) for v in d.ImagePositionPatient]), normal)) for d in dss]
    order = sorted(range(len(dss)), key=lambda n: dist[n])
    slices = []
    digests = []
    whole = hashlib.sha256()
    raw = open(raw_out, "wb") if raw_out else None
    for n in order:
        d = dss[n]
        stored = stored_values(d)
        hu = (stored.astype(np.float64) * float(getattr(d, "RescaleSlope", 1)) + float(getattr(d, "RescaleIntercept", 0))).astype("<f4")
        b = hu.tobytes()
        digests.append(hashlib.sha256(b).hexdigest())
        whole.update(b)
        if raw:
            raw.write(b)
        slices.append(
            {
                "file": os.path.basename(files[n]),
                "ipp": [float(v) for v in d.ImagePositionPatient],
                "min": float(hu.min()),
                "max": float(hu.max()),
                "sum": float(hu.astype(np.float64).sum()),
                "centre": float(hu[hu.shape[0] // 2, hu.shape[1] // 2]),
            }
        )
    if raw:
        raw.close()
    ps = [float(v) for v in dss[0].PixelSpacing]
    print(
        json.dumps(
            {
                "dims": [int(dss[0].Columns), int(dss[0].Rows), len(dss)],
                "iop": [float(v) for v in iop],
                "pixelSpacing": ps,
                "transferSyntax": str(dss[0].file_meta.TransferSyntaxUID),
                "decoder": "libopenjp2 (ctypes)" if str(dss[0].file_meta.TransferSyntaxUID) in JPEG2000 else "pydicom",
                "slices": slices,
                "sliceSha256": digests,
                "volumeSha256": whole.hexdigest(),
            }
        )
    )


if __name__ == "__main__":
    main()
