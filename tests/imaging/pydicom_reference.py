"""Reference pixel values from pydicom for tests/imaging/test_dicom_corpus.cpp.

usage: pydicom_reference.py OUT_DIR FILE...
Writes OUT_DIR/manifest.json: one entry per FILE with {"file", "decoded", "error",
"frames", "rows", "cols", "raw", "patient_name"} and, for every decoded grayscale image, OUT_DIR/<n>.f64:
the modality values pixel_array * RescaleSlope + RescaleIntercept (missing slope = 1,
missing intercept = 0) as little-endian float64, [frames][rows][cols]. Colour images
(RGB, YBR_FULL, YBR_FULL_422, PALETTE COLOR) give their luminance, "colour": true:
0.299 R + 0.587 G + 0.114 B (ITU-R BT.601) of pixel_array (PALETTE COLOR through pydicom's
apply_color_lut); for YBR_FULL* the Y channel, which PS3.3 C.7.6.3.1.2 defines so.
"""
import json
import os
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_color_lut

warnings.simplefilter("ignore")


BT601 = np.array([0.299, 0.587, 0.114])


def luminance(ds):
    """pixel_array of a colour image as luminance, float64, or None for other models."""
    pi = str(ds.PhotometricInterpretation).strip()
    arr = ds.pixel_array
    if pi == "PALETTE COLOR":
        return apply_color_lut(arr, ds).astype(np.float64) @ BT601
    if pi == "RGB":
        return arr.astype(np.float64) @ BT601
    if pi in ("YBR_FULL", "YBR_FULL_422"):
        return arr[..., 0].astype(np.float64)
    return None


def main():
    out_dir = sys.argv[1]
    entries = []
    for n, path in enumerate(sys.argv[2:]):
        entry = {"file": path, "decoded": False, "colour": False, "error": "", "frames": 0, "rows": 0, "cols": 0, "raw": "", "patient_name": ""}
        try:
            ds = pydicom.dcmread(path, force=True)
            try:
                entry["patient_name"] = str(ds.get("PatientName", ""))
            except Exception:
                entry["patient_name"] = ""
            if "PixelData" not in ds:
                entry["error"] = "no pixel data"
            else:
                colour = int(ds.get("SamplesPerPixel", 1)) != 1 or str(ds.get("PhotometricInterpretation", "")).strip() == "PALETTE COLOR"
                arr = luminance(ds) if colour else ds.pixel_array.astype(np.float64)
                if arr is None:
                    raise ValueError("colour model %s" % ds.PhotometricInterpretation)
                entry["colour"] = colour
                frames = int(ds.get("NumberOfFrames", 1) or 1)
                arr = arr.reshape(frames, int(ds.Rows), int(ds.Columns))
                slope = ds.get("RescaleSlope", None)
                intercept = ds.get("RescaleIntercept", None)
                slope = 1.0 if slope is None or float(slope) == 0.0 else float(slope)
                intercept = 0.0 if intercept is None else float(intercept)
                arr = arr * slope + intercept
                raw = os.path.join(out_dir, "%d.f64" % n)
                arr.astype("<f8").tofile(raw)
                entry.update(decoded=True, frames=frames, rows=int(ds.Rows), cols=int(ds.Columns), raw=raw)
        except Exception as e:  # pydicom's own failure is a finding, not a test error
            entry["error"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        entries.append(entry)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(entries, f, indent=1)


if __name__ == "__main__":
    main()
