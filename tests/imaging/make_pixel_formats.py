"""Writes DICOM files with pydicom (an independent writer) for test_pixel_formats.cpp.

usage: make_pixel_formats.py OUT_DIR
Single files OUT_DIR/<name>.dcm with OUT_DIR/<name>.f64, the modality values the DICOM
rules give (PS3.5 8.1.1 stored bits, sign extension; PS3.3 C.11.1 rescale, missing slope
= 1), computed here with numpy. Series folders OUT_DIR/series_<case>/ with 16x16 slices whose
every pixel equals the slice's z position in mm (slope 1, intercept 0).
"""
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT = "1.2.840.10008.5.1.4.1.1.2"


def base(rows, cols, study, series, position=(0.0, 0.0, 0.0), orientation=(1, 0, 0, 0, 1, 0)):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientName = "Format^Test"
    ds.PatientID = "FMT"
    ds.Modality = "CT"
    ds.Rows = rows
    ds.Columns = cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelSpacing = [0.5, 0.5]
    ds.ImagePositionPatient = list(position)
    ds.ImageOrientationPatient = list(orientation)
    return ds


def save(ds, path, pixels, bits_allocated, bits_stored, signed):
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, write_like_original=False)


def stored_value(raw, bits_allocated, bits_stored, signed):
    """PS3.5 8.1.1: keep bits [0, bits_stored), sign-extend when signed."""
    v = raw.astype(np.int64) & ((1 << bits_allocated) - 1)
    v &= (1 << bits_stored) - 1
    if signed:
        v = np.where(v & (1 << (bits_stored - 1)), v - (1 << bits_stored), v)
    return v


def single(out, name, raw_dtype, bits_allocated, bits_stored, signed, values, slope=None, intercept=None, mono1=False):
    study, series = generate_uid(), generate_uid()
    ds = base(values.shape[0], values.shape[1], study, series)
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    if mono1:
        ds.PhotometricInterpretation = "MONOCHROME1"
    raw = values.astype(raw_dtype)
    save(ds, os.path.join(out, name + ".dcm"), raw, bits_allocated, bits_stored, signed)
    expected = stored_value(raw.view(np.dtype("u%d" % (bits_allocated // 8))), bits_allocated, bits_stored, signed)
    s = 1.0 if slope is None else float(slope)
    i = 0.0 if intercept is None else float(intercept)
    (expected.astype(np.float64) * s + i).astype("<f8").tofile(os.path.join(out, name + ".f64"))


def series(out, name, positions, sizes=None, orientations=None, names=None, instance_numbers=None):
    folder = os.path.join(out, "series_" + name)
    os.makedirs(folder, exist_ok=True)
    study, uid = generate_uid(), generate_uid()
    for k, z in enumerate(positions):
        rows = cols = 16 if sizes is None else sizes[k]
        orientation = (1, 0, 0, 0, 1, 0) if orientations is None else orientations[k]
        ds = base(rows, cols, study, uid, position=(0.0, 0.0, float(z)), orientation=orientation)
        ds.InstanceNumber = k + 1 if instance_numbers is None else instance_numbers[k]
        pixels = np.full((rows, cols), int(round(z)), dtype=np.int16)
        file_name = ("f%03d" % k) if names is None else names[k]
        save(ds, os.path.join(folder, file_name), pixels, 16, 16, True)


def encapsulated(out, name, transfer_syntax):
    """A file whose pixel data use a transfer syntax the loader does not decode. pydicom 2.3
    refuses to write UIDs it does not know, so the file is written as MPEG2 (same UID length)
    and the meta header's UID is patched afterwards."""
    from pydicom.encaps import encapsulate
    mpeg2 = "1.2.840.10008.1.2.4.100"
    assert len(transfer_syntax) == len(mpeg2)
    ds = base(8, 8, generate_uid(), generate_uid())
    ds.file_meta.TransferSyntaxUID = mpeg2
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([b"\xff\x0a" + bytes(30)])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    path = os.path.join(out, name + ".dcm")
    ds.save_as(path, write_like_original=False)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data.replace(mpeg2.encode(), transfer_syntax.encode(), 1))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261128)
    shape = (12, 10)
    single(out, "u8", np.uint8, 8, 8, False, rng.integers(0, 256, shape))
    single(out, "s8", np.int8, 8, 8, True, rng.integers(-128, 128, shape), slope="1", intercept="-5")
    single(out, "mono1_u12", np.uint16, 16, 12, False, rng.integers(0, 4096, shape), mono1=True)
    # Signed 12-bit with junk in the unused high bits (e.g. an old overlay plane).
    clean = rng.integers(-2048, 2048, shape)
    junk = (clean & 0xFFF) | (rng.integers(0, 2, shape) << 13)
    single(out, "s12_junk_high_bits", np.uint16, 16, 12, True, junk, intercept="0")
    # RescaleIntercept without RescaleSlope: the slope is 1 (DCMTK's findAndGetFloat64 would give 0).
    single(out, "u16_no_slope", np.uint16, 16, 16, False, rng.integers(0, 65536, shape), intercept="-1024")
    single(out, "float_rescale", np.int16, 16, 16, True, rng.integers(-3000, 3000, shape), slope="0.5", intercept="-10.25")
    single(out, "s32", np.int32, 32, 32, True, rng.integers(-2**31, 2**31 - 1, shape, dtype=np.int64))
    encapsulated(out, "jpeg_xl", "1.2.840.10008.1.2.4.110")
    encapsulated(out, "mpeg2", "1.2.840.10008.1.2.4.100")
    # Series whose geometry the loader must report.
    order = [7, 2, 9, 0, 4, 1, 8, 3, 6, 5]
    series(out, "shuffled", [float(k) * 2.5 for k in order], names=["x%d" % ((k * 7919) % 97) for k in order],
           instance_numbers=[10 - k for k in order])
    series(out, "missing", [0.0, 2.0, 4.0, 6.0, 10.0, 12.0, 14.0])
    series(out, "uneven", [0.0, 1.0, 2.0, 3.0, 4.4, 5.4, 6.4, 7.4])
    series(out, "mixed_size", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], sizes=[16, 16, 16, 16, 8, 8])


if __name__ == "__main__":
    main()
