#!/usr/bin/env python3
"""A single-frame CT series -> one multi-frame Legacy Converted Enhanced CT (or Enhanced CT)
instance, written with pydicom independently of the TypeScript reader (test data for
test/dicomweb/enhancedCt.test.ts).

    /usr/bin/python3 test/reference/make_enhanced_ct.py SRC_DIR OUT_FILE [--enhanced] \
        [--shared-rescale] [--study UID --series UID --sop UID]

Frames are written in the source's file order (not sorted: the reader must sort by position).
Per frame: Plane Position, Frame Content, Pixel Value Transformation (per frame unless
--shared-rescale), CT Image Frame Type; shared: Pixel Measures, Plane Orientation. Pixel data:
the source slices' stored values, unchanged (native, explicit VR little endian).
"""
import argparse
import glob
import os

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

LEGACY_ENHANCED_CT = '1.2.840.10008.5.1.4.1.1.2.2'
ENHANCED_CT = '1.2.840.10008.5.1.4.1.1.2.1'

COPY = ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyInstanceUID', 'StudyDate',
        'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber', 'StudyDescription',
        'FrameOfReferenceUID', 'PositionReferenceIndicator', 'Manufacturer', 'PatientPosition', 'BodyPartExamined',
        'SeriesDescription', 'SeriesNumber']


def item(**kw):
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('src')
    ap.add_argument('out')
    ap.add_argument('--enhanced', action='store_true', help='Enhanced CT SOP class (default: Legacy Converted)')
    ap.add_argument('--shared-rescale', action='store_true')
    ap.add_argument('--study')
    ap.add_argument('--series')
    ap.add_argument('--sop')
    a = ap.parse_args()
    files = sorted(f for f in glob.glob(os.path.join(a.src, '*')) if os.path.isfile(f))
    srcs = [pydicom.dcmread(f) for f in files]
    first = srcs[0]
    ds = Dataset()
    for k in COPY:
        if k in first:
            setattr(ds, k, first.data_element(k).value)
    sop_class = ENHANCED_CT if a.enhanced else LEGACY_ENHANCED_CT
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = a.sop or generate_uid()
    if a.study:
        ds.StudyInstanceUID = a.study
    ds.SeriesInstanceUID = a.series or generate_uid()
    ds.Modality = 'CT'
    ds.InstanceNumber = 1
    ds.ContentDate = first.get('ContentDate', first.get('StudyDate', '20200101'))
    ds.ContentTime = first.get('ContentTime', first.get('StudyTime', '000000'))
    ds.AcquisitionDateTime = f'{ds.ContentDate}{ds.ContentTime}'
    ds.ImageType = ['ORIGINAL', 'PRIMARY', 'AXIAL', 'NONE']
    ds.PixelPresentation = 'MONOCHROME'
    ds.VolumetricProperties = 'VOLUME'
    ds.VolumeBasedCalculationTechnique = 'NONE'
    ds.ManufacturerModelName = first.get('ManufacturerModelName', 'unknown')
    ds.DeviceSerialNumber = first.get('DeviceSerialNumber', 'unknown')
    ds.SoftwareVersions = first.get('SoftwareVersions', 'unknown')
    ds.AcquisitionContextSequence = Sequence([])
    ds.BurnedInAnnotation = 'NO'
    ds.ContentQualification = 'RESEARCH'
    ds.PresentationLUTShape = 'IDENTITY'
    ds.LossyImageCompression = '00'
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.Rows, ds.Columns = first.Rows, first.Columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = first.BitsAllocated, first.BitsStored, first.HighBit
    ds.PixelRepresentation = first.PixelRepresentation
    ds.NumberOfFrames = len(srcs)
    shared = item(
        PixelMeasuresSequence=Sequence([item(PixelSpacing=first.PixelSpacing, SliceThickness=first.SliceThickness)]),
        PlaneOrientationSequence=Sequence([item(ImageOrientationPatient=first.ImageOrientationPatient)]),
    )
    if a.shared_rescale:
        shared.PixelValueTransformationSequence = Sequence([item(
            RescaleIntercept=first.RescaleIntercept, RescaleSlope=first.RescaleSlope, RescaleType='HU')])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for k, s in enumerate(srcs):
        fg = item(
            PlanePositionSequence=Sequence([item(ImagePositionPatient=s.ImagePositionPatient)]),
            FrameContentSequence=Sequence([item(FrameAcquisitionDateTime=ds.AcquisitionDateTime,
                                                FrameReferenceDateTime=ds.AcquisitionDateTime,
                                                FrameAcquisitionDuration=0.0,
                                                StackID='1', InStackPositionNumber=k + 1,
                                                DimensionIndexValues=[1, k + 1])]),
            CTImageFrameTypeSequence=Sequence([item(FrameType=['ORIGINAL', 'PRIMARY', 'AXIAL', 'NONE'],
                                                    PixelPresentation='MONOCHROME', VolumetricProperties='VOLUME',
                                                    VolumeBasedCalculationTechnique='NONE')]),
        )
        if not a.enhanced:  # Legacy Converted: per-frame attributes of the source with no functional group
            fg.UnassignedPerFrameConvertedAttributesSequence = Sequence([item(InstanceNumber=s.InstanceNumber)])
        if not a.shared_rescale:
            fg.PixelValueTransformationSequence = Sequence([item(
                RescaleIntercept=s.RescaleIntercept, RescaleSlope=s.RescaleSlope, RescaleType='HU')])
        per_frame.append(fg)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    dim_org = generate_uid()
    ds.DimensionOrganizationSequence = Sequence([item(DimensionOrganizationUID=dim_org)])
    ds.DimensionIndexSequence = Sequence([
        item(DimensionOrganizationUID=dim_org, DimensionIndexPointer=0x00209056,
             FunctionalGroupPointer=0x00209111),
        item(DimensionOrganizationUID=dim_org, DimensionIndexPointer=0x00209057,
             FunctionalGroupPointer=0x00209111),
    ])
    pixels = np.stack([s.pixel_array for s in srcs])
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder('<')).tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(a.out, write_like_original=False)


if __name__ == '__main__':
    main()
