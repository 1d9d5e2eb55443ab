"""Dumps the attributes of DICOM files for tests/imaging/test_deidentify.cpp (pydicom reads
what our DCMTK code wrote: an independent reader).

usage: dump_tags.py FILE...   -> JSON list, one object per file:
  {"file", "tags": ["GGGGEEEE", ...] (all levels), "private": n,
   "values": {"GGGGEEEE": str, ...} (top level, text VRs), "meta_sop_instance_uid"}
"""
import json
import sys

import pydicom

TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UI", "UT", "UC"}

out = []
for path in sys.argv[1:]:
    ds = pydicom.dcmread(path)
    entry = {"file": path, "tags": [], "private": 0, "values": {}, "codes": []}
    for e in ds.iterall():
        entry["tags"].append("%04X%04X" % (e.tag.group, e.tag.element))
        if e.tag.is_private:
            entry["private"] += 1
        if e.tag == 0x00080100:
            entry["codes"].append(str(e.value))
    for e in ds:
        if e.VR in TEXT_VRS:
            entry["values"]["%04X%04X" % (e.tag.group, e.tag.element)] = str(e.value)
    entry["meta_sop_instance_uid"] = str(ds.file_meta.get("MediaStorageSOPInstanceUID", ""))
    out.append(entry)
json.dump(out, sys.stdout)
