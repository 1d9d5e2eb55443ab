"""Reference pixel values from pydicom for tests/imaging/test_dicom_corpus.cpp.

usage: pydicom_reference.py OUT_DIR FILE...
Writes OUT_DIR/manifest.json: one entry per FILE with {"file", "decoded", "error",
"frames", "rows", "cols", "raw", "patient_name"} and, for every decoded grayscale image, OUT_DIR/<n>.f64:
the modality values pixel_array * RescaleSlope + RescaleIntercept (missing slope = 1,
missing intercept = 0) as little-endian float64, [frames][rows][cols]. Colour images (RGB,
YBR_* converted to RGB by pydicom's convert_color_space, PALETTE COLOR through
apply_color_lut) give their luminance 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601), with
"colour": true in the manifest.
"""
import json
import os
import sys
import warnings

import numpy as np
import pydicom

warnings.simplefilter("ignore")


def main():
    out_dir = sys.argv[1]
    entries = []
    for n, path in enumerate(sys.argv[2:]):
        entry = {"file": path, "decoded": False, "error": "", "frames": 0, "rows": 0, "cols": 0, "raw": "", "patient_name": ""}
        try:
            ds = pydicom.dcmread(path, force=True)
            try:
                entry["patient_name"] = str(ds.get("PatientName", ""))
            except Exception:
                entry["patient_name"] = ""
            if "PixelData" not in ds:
                entry["error"] = "no pixel data"
            elif int(ds.get("SamplesPerPixel", 1)) == 3 or ds.get("PhotometricInterpretation", "") == "PALETTE COLOR":
                from pydicom.pixel_data_handlers.util import apply_color_lut, convert_color_space
                pi = str(ds.PhotometricInterpretation)
                arr = ds.pixel_array
                if pi == "PALETTE COLOR":
                    arr = apply_color_lut(arr, ds)
                elif pi.startswith("YBR") and pi not in ("YBR_RCT", "YBR_ICT"):
                    arr = convert_color_space(arr, pi, "RGB")
                elif pi != "RGB":
                    raise ValueError("colour space " + pi)
                frames = int(ds.get("NumberOfFrames", 1) or 1)
                arr = arr.astype(np.float64).reshape(frames, int(ds.Rows), int(ds.Columns), 3)
                lum = 0.299 * arr[..., 0] + 0.587 * arr[..., 1] + 0.114 * arr[..., 2]
                raw = os.path.join(out_dir, "%d.f64" % n)
                lum.astype("<f8").tofile(raw)
                entry.update(decoded=True, colour=True, frames=frames, rows=int(ds.Rows), cols=int(ds.Columns), raw=raw)
            else:
                arr = ds.pixel_array.astype(np.float64)
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
