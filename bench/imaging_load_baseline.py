"""pydicom + numpy baseline for bench/imaging_load_bench.cpp: reads every DICOM file of a
series folder the way a Python pipeline would (dcmread, pixel_array, rescale, sort by
ImagePositionPatient along the slice normal, stack into one float32 volume).

usage: imaging_load_baseline.py DIR [REPEATS]  -> one JSON object on stdout
"""
import json
import os
import sys
import time

import numpy as np
import pydicom


def load(folder):
    slices = []
    for name in sorted(os.listdir(folder)):
        ds = pydicom.dcmread(os.path.join(folder, name))
        arr = ds.pixel_array.astype(np.float32)
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        iop = np.array(ds.ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        slices.append((float(np.dot(np.array(ds.ImagePositionPatient, dtype=float), normal)), arr * slope + intercept))
    slices.sort(key=lambda s: s[0])
    return np.stack([s[1] for s in slices])


def main():
    folder = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    result = {"folder": folder, "pydicom": pydicom.__version__, "numpy": np.__version__}
    try:
        best = None
        for _ in range(repeats):
            t0 = time.perf_counter()
            volume = load(folder)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        result.update(seconds=best, shape=list(volume.shape), checksum=float(volume.astype(np.float64).sum()))
    except Exception as e:  # e.g. no JPEG-LS decoder installed for pydicom
        result.update(seconds=None, error="%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
