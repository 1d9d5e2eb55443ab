"""Writes a study folder with two copies of one CT series: `clean/` as it is, and
`annotated/`, a new series (new Series and SOP Instance UIDs, SeriesNumber 0 so it sorts
first, the same slices) whose files say BurnedInAnnotation YES. The model must read the
clean one (imaging::chooseModelSeries) and refuse the annotated one when asked for it.

  python3 mark_burned_in.py SRC_DIR DST_DIR   # prints the annotated series' UID
"""

import os
import shutil
import sys

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import generate_uid


def main(src, dst):
    series_uid = generate_uid()
    os.makedirs(os.path.join(dst, "clean"), exist_ok=True)
    os.makedirs(os.path.join(dst, "annotated"), exist_ok=True)
    n = 0
    for root, _, files in os.walk(src):
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                ds = dcmread(path)
            except InvalidDicomError:
                continue
            shutil.copy(path, os.path.join(dst, "clean", f"{n:04d}.dcm"))
            ds.SeriesInstanceUID = series_uid
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.SeriesNumber = 0
            ds.SeriesDescription = "Annotated copy"
            ds.BurnedInAnnotation = "YES"
            ds.save_as(os.path.join(dst, "annotated", f"{n:04d}.dcm"))
            n += 1
    if n == 0:
        sys.exit(f"no DICOM file under {src}")
    print(series_uid)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
