"""Writes colour DICOM files with pydicom (an independent writer) for test_colour.cpp.

usage: make_colour.py OUT_DIR
OUT_DIR/palette.dcm (8-bit PALETTE COLOR, 16-bit LUT entries), OUT_DIR/palette8.dcm (8-bit
LUT entries), OUT_DIR/series_rgb/ (three 16x12 RGB slices, planar configuration 1, at
z = 0, 2, 4 mm, written in reverse order), each with <name>.f64: the luminance
0.299 R + 0.587 G + 0.114 B (ITU-R BT.601) of pydicom's pixel_array (apply_color_lut for
PALETTE COLOR), little-endian float64, [slice][row][col] in z order. OUT_DIR/primaries.dcm:
one row of 8-bit red, green, blue, white, black pixels. OUT_DIR/burned_in/ and
OUT_DIR/clean_ct/: two 8x8 CT slices each, the second of burned_in/ with BurnedInAnnotation
YES, clean_ct/ with NO.
"""
import os
import sys

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixel_data_handlers.util import apply_color_lut
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SC = "1.2.840.10008.5.1.4.1.1.7"
CT = "1.2.840.10008.5.1.4.1.1.2"
BT601 = np.array([0.299, 0.587, 0.114])


def base(rows, cols, series, z=0.0):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SC
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = SC
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = series
    ds.PatientName = "Colour^Test"
    ds.PatientID = "COL"
    ds.Modality = "OT"
    ds.Rows = rows
    ds.Columns = cols
    ds.PixelSpacing = [0.5, 0.5]
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    return ds


def palette(out, name, entry_bits, rng):
    ds = base(20, 24, generate_uid())
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "PALETTE COLOR"
    index = rng.integers(0, 256, size=(20, 24), dtype=np.uint8)
    dtype = np.uint16 if entry_bits == 16 else np.uint8
    top = 65535 if entry_bits == 16 else 255
    for colour in ("Red", "Green", "Blue"):
        lut = rng.integers(0, top + 1, size=256).astype(dtype)
        setattr(ds, colour + "PaletteColorLookupTableDescriptor", [256, 0, entry_bits])
        data = lut.astype("<u2").tobytes() if entry_bits == 16 else lut.tobytes()
        setattr(ds, colour + "PaletteColorLookupTableData", data)
    ds.PixelData = index.tobytes()
    path = os.path.join(out, name + ".dcm")
    ds.save_as(path, write_like_original=False)
    back = dcmread(path)
    lum = apply_color_lut(back.pixel_array, back).astype(np.float64) @ BT601
    lum.astype("<f8").tofile(os.path.join(out, name + ".f64"))


def rgb_series(out, rng):
    folder = os.path.join(out, "series_rgb")
    os.makedirs(folder, exist_ok=True)
    series = generate_uid()
    lums = []
    for k, z in enumerate((4.0, 2.0, 0.0)):
        ds = base(12, 16, series, z)
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 1
        rgb = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
        ds.PixelData = np.ascontiguousarray(rgb.transpose(2, 0, 1)).tobytes()
        path = os.path.join(folder, "slice%d" % k)
        ds.save_as(path, write_like_original=False)
        lums.append(dcmread(path).pixel_array.astype(np.float64) @ BT601)
    np.stack(lums[::-1]).astype("<f8").tofile(os.path.join(out, "series_rgb.f64"))


def primaries(out):
    """One row: red, green, blue, white, black at full scale (no reference file)."""
    ds = base(1, 5, generate_uid())
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]], np.uint8)
    ds.PixelData = rgb.tobytes()
    ds.save_as(os.path.join(out, "primaries.dcm"), write_like_original=False)


def ct_pair(out, name, burned_in):
    """Two 8x8 CT slices; with burned_in, the second says BurnedInAnnotation YES."""
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    series = generate_uid()
    for k in range(2):
        ds = base(8, 8, series, float(k))
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CT
        ds.Modality = "CT"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        if burned_in and k == 1:
            ds.BurnedInAnnotation = "YES"
        elif not burned_in:
            ds.BurnedInAnnotation = "NO"
        ds.PixelData = np.full((8, 8), 1000 + k, np.uint16).tobytes()
        ds.save_as(os.path.join(folder, "ct%d" % k), write_like_original=False)


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(601)
    primaries(out)
    ct_pair(out, "burned_in", True)
    ct_pair(out, "clean_ct", False)
    palette(out, "palette", 16, rng)
    palette(out, "palette8", 8, rng)
    rgb_series(out, rng)


if __name__ == "__main__":
    main()
