"""Training cases: CT grid + nodule truth + patient facts (issue 8, "Data").

Two sources, one Case type:

* `load_synth_case(dir)` reads a case written by `consilium-cli synth` (imaging/phantom.h:
  the DICOM series, truth.json, patient_record.txt). The CT grid comes from
  `ct_grid.f32` + `ct_grid.json` beside it when the C++ feature dump wrote them (the one
  preprocessing path of docs/MODEL.md 3.1). Until that dump exists, `reference_grid()`
  computes the grid from the DICOM files with pydicom and torch's trilinear
  interpolation — the literal definition in docs/MODEL.md 3.1, kept only as the reference
  that the C++ dump is checked against (`--check-grid`).
* `toy_case(rng, cfg)` draws a small analytic phantom directly on the grid, for `--quick`
  smoke tests and unit checks only (no DICOM, seconds for hundreds of cases).
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import zlib
from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from training import model as M
from training import records


@dataclasses.dataclass
class Nodule:
    grid_zyx: List[float]      # continuous grid coordinates (voxel centre k at k)
    diameter_mm: float
    solid_mm: float
    type: str                  # model.TYPES
    lobe: str                  # model.LOBES
    center_mm: Optional[List[float]] = None  # LPS, when known


@dataclasses.dataclass
class Case:
    ct: np.ndarray             # [D,H,W] float16 windowed grid in [0,1]
    nodules: List[Nodule]
    lung_rads: str             # model.LUNG_RADS
    facts: records.Facts
    sp_yx: float               # in-plane grid voxel size, mm (docs/MODEL.md 3.1)
    spacing_zyx: tuple = (1.0, 1.0, 1.0)  # grid voxel size along z, y, x, mm
    case_id: str = ""
    record_text: str = ""      # the case's own record (patient_record.txt of `synth`), English
    lobe_patch: Optional[np.ndarray] = None  # [n_patch] lobe index per patch, -1 unlabelled (`patch_lobes`)


# ---------------------------------------------------------------------------------------
# Lung-RADS v2022 (baseline), the same table as imaging/phantom.h lungRadsCategory()

def lung_rads_case(nodules: List[Nodule]) -> str:
    return M.lung_rads_highest(M.lung_rads_nodule(n.type, n.diameter_mm, n.solid_mm) for n in nodules)


# ---------------------------------------------------------------------------------------
# Detection targets (docs/MODEL.md section 10, inverted)


def patch_zyx(grid_zyx, cfg: M.Config):
    """(pz, py, px) of the patch holding a grid position (clamped into the grid)."""
    pd, ph, pw = cfg.ct_patch
    D, H, W = cfg.ct_grid
    gz, gy, gx = grid_zyx
    return (int(np.clip((gz + 0.5) // pd, 0, D // pd - 1)), int(np.clip((gy + 0.5) // ph, 0, H // ph - 1)),
            int(np.clip((gx + 0.5) // pw, 0, W // pw - 1)))


def patch_index(grid_zyx, cfg: M.Config) -> int:
    """Patch index p = (pz*ny + py)*nx + px (docs/MODEL.md section 5) of a grid position."""
    pz, py, px = patch_zyx(grid_zyx, cfg)
    ny, nx = cfg.ct_grid[1] // cfg.ct_patch[1], cfg.ct_grid[2] // cfg.ct_patch[2]
    return (pz * ny + py) * nx + px


def patch_lobes(labels: np.ndarray, cfg: M.Config, min_lung: float = 0.1) -> np.ndarray:
    """Each patch's lobe (M.LOBES index) from a grid of lobe labels (`ct_lobes.u8` of
    `consilium-cli synth`: 0 outside the lungs, 1..5 = M.LOBES): the lobe most of its lung
    voxels lie in, where lung fills at least `min_lung` of the patch; -1 elsewhere."""
    pd, ph, pw = cfg.ct_patch
    D, H, W = cfg.ct_grid
    p = labels.reshape(D // pd, pd, H // ph, ph, W // pw, pw).transpose(0, 2, 4, 1, 3, 5).reshape(cfg.n_patch, -1)
    counts = np.stack([(p == k + 1).sum(1) for k in range(len(M.LOBES))], 1)
    lobe = counts.argmax(1).astype(np.int64)
    lobe[counts.sum(1) < min_lung * p.shape[1]] = -1
    return lobe


def det_targets(case: Case, cfg: M.Config):
    """Per-patch targets: obj [N], offsets [N,3], log diameter in grid voxels [N], type [N],
    lobe [N] (-1 where no nodule). The patch containing a nodule centre is positive.
    lobe_all [N]: every lung patch's lobe (`Case.lobe_patch`) with the nodule's own lobe on
    positive patches; all -1 when the case has no lobe labels."""
    pd, ph, pw = cfg.ct_patch
    D, H, W = cfg.ct_grid
    ny, nx = H // ph, W // pw
    n = cfg.n_patch
    obj = np.zeros(n, np.float32)
    off = np.zeros((n, 3), np.float32)
    logd = np.zeros(n, np.float32)
    typ = np.full(n, -1, np.int64)
    lobe = np.full(n, -1, np.int64)
    for nd in case.nodules:
        gz, gy, gx = nd.grid_zyx
        pz, py, px = patch_zyx(nd.grid_zyx, cfg)
        p = (pz * ny + py) * nx + px
        if obj[p] and logd[p] >= np.log(nd.diameter_mm / case.sp_yx):
            continue  # two nodules in one patch: the larger one is the target
        obj[p] = 1
        off[p] = [(gz + 0.5 - pz * pd) / pd, (gy + 0.5 - py * ph) / ph, (gx + 0.5 - px * pw) / pw]
        logd[p] = np.log(max(nd.diameter_mm, 0.5) / case.sp_yx)
        typ[p] = M.TYPES.index(nd.type)
        lobe[p] = M.LOBES.index(nd.lobe)
    lobe_all = case.lobe_patch.copy() if case.lobe_patch is not None else np.full(n, -1, np.int64)
    lobe_all[lobe >= 0] = lobe[lobe >= 0]
    return dict(obj=obj, off=np.clip(off, 1e-3, 1 - 1e-3), logd=logd, type=typ, lobe=lobe, lobe_all=lobe_all)


def dense_targets(case: Case, cfg: M.Config):
    """Targets of the dense head (docs/MODEL.md section 10) on the convolution map's cells:
    pos [K] cell index of each nodule's centre (cell floor((g + 0.5) / T) per axis), off
    [K,3] its offset inside the cell ((g + 0.5) / T - cell), logd [K] log diameter in grid
    voxels, type [K], lobe [K], solid [K] the solid part's share of the diameter. Two nodules
    in one cell: the larger one."""
    Dc, Hc, Wc = cfg.conv_cells
    T = np.array(cfg.conv_stride, np.float64)
    best = {}
    for nd in case.nodules:
        a = (np.array(nd.grid_zyx, np.float64) + 0.5) / T
        c = np.clip(np.floor(a).astype(int), 0, np.array([Dc, Hc, Wc]) - 1)
        k = int((c[0] * Hc + c[1]) * Wc + c[2])
        if k in best and best[k].diameter_mm >= nd.diameter_mm:
            continue
        best[k] = nd
    out = dict(pos=[], off=[], logd=[], type=[], lobe=[], solid=[])
    for k, nd in best.items():
        c = np.array([k // (Hc * Wc), (k // Wc) % Hc, k % Wc])
        out["pos"].append(k)
        out["off"].append(np.clip((np.array(nd.grid_zyx) + 0.5) / T - c, 1e-3, 1 - 1e-3))
        out["logd"].append(np.log(max(nd.diameter_mm, 0.5) / case.sp_yx))
        out["type"].append(M.TYPES.index(nd.type))
        out["lobe"].append(M.LOBES.index(nd.lobe))
        out["solid"].append(min(nd.solid_mm / max(nd.diameter_mm, 0.5), 1.0))
    return out


# ---------------------------------------------------------------------------------------
# Toy phantom on the grid (--quick only)


def toy_case(rng: np.random.Generator, cfg: M.Config, n_nodules: Optional[int] = None) -> Case:
    D, H, W = cfg.ct_grid
    sp_yx, sp_z = 340.0 / W, 300.0 / D
    z, y, x = np.meshgrid(np.arange(D, dtype=np.float32), np.arange(H, dtype=np.float32),
                          np.arange(W, dtype=np.float32), indexing="ij")
    hu = np.full((D, H, W), -1000.0, np.float32)
    body = ((y - H / 2) / (0.42 * H)) ** 2 + ((x - W / 2) / (0.47 * W)) ** 2 < 1
    hu[body] = 40.0
    lungs = {}
    for side, cx in (("R", 0.3 * W), ("L", 0.7 * W)):  # image left = patient right (LPS)
        m = (((y - H / 2) / (0.3 * H)) ** 2 + ((x - cx) / (0.17 * W)) ** 2 < 1) & (z > 0.05 * D) & (z < 0.95 * D)
        hu[m] = -850.0
        lungs[side] = m
    nn = int(rng.integers(0, 4)) if n_nodules is None else n_nodules
    nodules = []
    for _ in range(nn):
        side = "R" if rng.uniform() < 0.5 else "L"
        cand = np.argwhere(lungs[side])
        cz, cy, cx = cand[rng.integers(len(cand))].astype(float)
        ntype = M.TYPES[rng.integers(3)]
        d = float(rng.uniform(4, 25 if ntype != "ground-glass" else 35))
        solid = d if ntype == "solid" else (float(rng.uniform(0.2, 0.8)) * d if ntype == "part-solid" else 0.0)
        r2 = ((z - cz) * sp_z) ** 2 + ((y - cy) * sp_yx) ** 2 + ((x - cx) * sp_yx) ** 2
        if ntype == "ground-glass":
            hu[r2 < (d / 2) ** 2] = -450.0
        else:
            if ntype == "part-solid":
                hu[r2 < (d / 2) ** 2] = -450.0
            hu[r2 < (solid / 2) ** 2] = 30.0
        zf = cz / D
        lobe = (("RUL" if zf < 0.4 else "RML" if zf < 0.6 else "RLL") if side == "R"
                else ("LUL" if zf < 0.5 else "LLL"))
        nodules.append(Nodule([float(cz), float(cy), float(cx)], d, solid, ntype, lobe))
    hu += rng.normal(0, 15, hu.shape).astype(np.float32)
    ct = window(hu, cfg)
    # The same lobe rule on every lung voxel: the toy's ct_lobes.u8.
    labels = np.zeros((D, H, W), np.uint8)
    for side, names, cuts in (("R", ("RUL", "RML", "RLL"), (0.4, 0.6)), ("L", ("LUL", "LLL"), (0.5,))):
        k = np.searchsorted(np.array(cuts), z / D, side="right")
        for i, name in enumerate(names):
            labels[lungs[side] & (k == i)] = M.LOBES.index(name) + 1
    return Case(ct=ct.astype(np.float16), nodules=nodules, lung_rads=lung_rads_case(nodules),
                facts=records.random_facts(rng), sp_yx=sp_yx,
                spacing_zyx=(sp_z, sp_yx, sp_yx), case_id=f"toy-{rng.integers(1 << 30)}",
                lobe_patch=patch_lobes(labels, cfg))


def window(hu: np.ndarray, cfg: M.Config) -> np.ndarray:
    lo = cfg.window_center - cfg.window_width / 2
    return np.clip((hu - lo) / cfg.window_width, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------------------
# consilium-cli synth cases


def reference_grid(dicom_dir: str, cfg: M.Config):
    """docs/MODEL.md 3.1 from DICOM files: returns (grid [D,H,W] float32 windowed, geometry
    dict with origin, axes, spacing, dims, sop). Reference only; see the module docstring."""
    import pydicom

    files = [f for f in glob.glob(os.path.join(dicom_dir, "**", "*"), recursive=True) if os.path.isfile(f)]
    slices = []
    for f in files:
        try:
            ds = pydicom.dcmread(f)
        except Exception:  # noqa: BLE001 - non-DICOM files (truth.json, ...) are skipped
            continue
        if "PixelData" not in ds:
            continue
        slices.append(ds)
    if not slices:
        raise ValueError(f"{dicom_dir}: no DICOM images")
    iop = np.array(slices[0].ImageOrientationPatient, np.float64)
    ax_x, ax_y = iop[:3], iop[3:]
    normal = np.cross(ax_x, ax_y)
    slices.sort(key=lambda s: float(np.dot(normal, np.array(s.ImagePositionPatient, np.float64))))
    hu = np.stack([s.pixel_array.astype(np.float32) * float(getattr(s, "RescaleSlope", 1))
                   + float(getattr(s, "RescaleIntercept", 0)) for s in slices])
    p0 = np.array(slices[0].ImagePositionPatient, np.float64)
    dz = (float(np.dot(normal, np.array(slices[-1].ImagePositionPatient, np.float64) - p0)) / (len(slices) - 1)
          if len(slices) > 1 else 1.0)
    ps = [float(v) for v in slices[0].PixelSpacing]  # row spacing (y), column spacing (x)
    geom = dict(origin=p0.tolist(), axes=[ax_x.tolist(), ax_y.tolist(), normal.tolist()],
                spacing=[ps[1], ps[0], dz], dims=[hu.shape[2], hu.shape[1], hu.shape[0]],
                sop=[str(s.SOPInstanceUID) for s in slices])
    return window(resample_like_imaging(hu, cfg.ct_grid), cfg), geom


def resample_like_imaging(hu: np.ndarray, grid) -> np.ndarray:
    """imaging::resampleToGrid (docs/MODEL.md 3.1) in torch: in-plane area averaging when
    shrinking (equal to cv::INTER_AREA for integer factors, close otherwise) or bilinear
    with half-pixel centres when enlarging; linear between slices, end slices kept."""
    D, H, W = grid
    Sz, Sy, Sx = hu.shape
    t = torch.from_numpy(np.ascontiguousarray(hu, dtype=np.float32))[:, None]
    if W < Sx or H < Sy:
        t = F.interpolate(t, size=(H, W), mode="area")
    elif (H, W) != (Sy, Sx):
        t = F.interpolate(t, size=(H, W), mode="bilinear", align_corners=False)
    t = t[:, 0]
    zf = np.full(D, (Sz - 1) / 2.0) if D == 1 else np.arange(D) * (Sz - 1) / (D - 1)
    z0 = np.clip(np.floor(zf).astype(int), 0, Sz - 1)
    z1 = np.minimum(z0 + 1, Sz - 1)
    w = torch.from_numpy((zf - z0).astype(np.float32))[:, None, None]
    g = t[z0] + (t[z1] - t[z0]) * w
    return g.numpy()


def patient_to_grid(p_mm, geom: dict, cfg: M.Config) -> List[float]:
    """LPS mm -> continuous grid (z, y, x) by the inverse of docs/MODEL.md 3.1."""
    d = np.array(p_mm, np.float64) - np.array(geom["origin"])
    ax = np.array(geom["axes"])
    sx, sy, sz = [float(np.dot(d, ax[i])) / geom["spacing"][i] for i in range(3)]
    Sx, Sy, Sz = geom["dims"]
    D, H, W = cfg.ct_grid
    gz = sz * (D - 1) / (Sz - 1) if Sz > 1 else 0.0
    return [gz, (sy + 0.5) * H / Sy - 0.5, (sx + 0.5) * W / Sx - 0.5]


def _get(d: dict, *names, default=None):
    for n in names:
        if n in d:
            return d[n]
    return default


def load_synth_case(case_dir: str, cfg: M.Config) -> Case:
    """One `consilium-cli synth` case directory (truth.json + DICOM series)."""
    truth = json.load(open(os.path.join(case_dir, "truth.json"), encoding="utf-8"))
    grid_file = os.path.join(case_dir, "ct_grid.f32")
    if os.path.exists(grid_file):
        geom = json.load(open(os.path.join(case_dir, "ct_grid.json"), encoding="utf-8"))
        ct = np.fromfile(grid_file, dtype="<f4").reshape(cfg.ct_grid)
    else:
        ct, geom = reference_grid(case_dir, cfg)
    Sx, Sy, _ = geom["dims"]
    sp_yx = 0.5 * (geom["spacing"][0] * Sx / cfg.ct_grid[2] + geom["spacing"][1] * Sy / cfg.ct_grid[1])
    nodules = []
    for n in _get(truth, "nodules", default=[]):
        c = _get(n, "centre_lps_mm", "center_mm", "centre_mm", "centre", "center")
        d = float(_get(n, "diameter_mm", "diameterMm"))
        ntype = _get(n, "type")
        solid = float(_get(n, "solid_diameter_mm", "solidDiameterMm", default=d if ntype == "solid" else 0.0))
        nodules.append(Nodule(patient_to_grid(c, geom, cfg), d, solid, ntype, _get(n, "lobe"), list(c)))
    p = _get(truth, "patient", default={})
    py = float(_get(p, "pack_years", "packYears", default=0))
    ysq = _get(p, "years_since_quitting", "years_since_quit", "yearsSinceQuit", default=None)
    ysq = -1 if ysq is None or _get(p, "current_smoker", default=False) else int(ysq)
    smoking = "never" if py == 0 else ("current" if ysq < 0 else "former")
    rng = np.random.default_rng(zlib.crc32(case_dir.encode()))
    sex = "male" if str(_get(p, "sex", default="M")).upper().startswith("M") else "female"
    # The phantom's record has no prior cancer / family history / symptom: drawn per case.
    cancers = [c for c in records.PRIOR_CANCER if not (sex == "female" and c == "prostate")]
    facts = records.Facts(age=int(_get(p, "age", default=60)), sex=sex,
                          smoking=smoking, pack_years=int(round(py)), years_since_quit=max(ysq, 0),
                          prior_cancer=cancers[rng.integers(len(cancers))],
                          family_history=bool(rng.integers(2)),
                          symptom=records.SYMPTOMS[rng.integers(len(records.SYMPTOMS))])
    lr = str(_get(truth, "lung_rads", "lungRads", default=lung_rads_case(nodules)))
    Sz = geom["dims"][2]
    spacing_zyx = (geom["spacing"][2] * (Sz - 1) / max(1, cfg.ct_grid[0] - 1), geom["spacing"][1] * Sy / cfg.ct_grid[1],
                   geom["spacing"][0] * Sx / cfg.ct_grid[2])
    rec_file = os.path.join(case_dir, "patient_record.txt")
    record_text = open(rec_file, encoding="utf-8").read().strip() if os.path.exists(rec_file) else ""
    lobe_file = os.path.join(case_dir, "ct_lobes.u8")
    lobe_patch = (patch_lobes(np.fromfile(lobe_file, dtype=np.uint8).reshape(cfg.ct_grid), cfg)
                  if os.path.exists(lobe_file) else None)
    return Case(ct=ct.astype(np.float16), nodules=nodules, lung_rads=lr, facts=facts, sp_yx=sp_yx,
                spacing_zyx=spacing_zyx, case_id=os.path.basename(os.path.normpath(case_dir)),
                record_text=record_text, lobe_patch=lobe_patch)


def load_synth_dir(root: str, cfg: M.Config) -> List[Case]:
    dirs = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(root, "**", "truth.json"), recursive=True))
    if not dirs:
        raise ValueError(f"{root}: no truth.json found (expected `consilium-cli synth` output)")
    return [load_synth_case(d, cfg) for d in dirs]
