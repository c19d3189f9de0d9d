"""Make the NIfTI reader/writer test fixtures and their nibabel / MONAI reference values.

Rerun (from the repository root):

    pip install monai torch==2.13.0 nibabel
    npm run build                       # the written_* fixtures come from ssl3d's own writer (dist/io/nifti)
    python3 scripts/reference/make_nifti_fixtures.py

Verified with nibabel 5.4, monai 1.6.1, torch 2.13. Writes test/fixtures/nifti/*.nii, *.nii.gz and
test/fixtures/nifti/expected.json (all small: a few kB each). Deterministic: rerunning gives the same bytes
(gzip is written with mtime 0).

expected.json:
  "files": { name: reference } for every readable fixture, plus the shared real CT / label
           (path relative to the repository root, not copied). Each reference has nibabel's view
           (shape, header zooms, img.affine, get_qform/get_sform, codes, orientation, data statistics after
           scl_slope/scl_inter as float64, sample voxels) and MONAI's view (LoadImage(image_only=True) with the
           default NibabelReader: MetaTensor shape, .affine after MONAI's header repair, pixdim).
  "errors": { name: {kind, nibabel_error} } for the bad-input fixtures.
  "written": { name: {inputs, nibabel read-back} } for files written by ssl3d's saveNifti.

Header fields are set directly (not through nib.save) so that scl_slope/scl_inter, inconsistent sform/qform and
big-endian layouts are stored exactly as intended.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "nifti"
SHARED_CT = ROOT.parent / "shared" / "data" / "ct-abdomen-small"

SHAPE = (5, 6, 7)


# --------------------------------------------------------------------------------------------------------------
# Building raw files
# --------------------------------------------------------------------------------------------------------------


def rot(axis: str, deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def affine(lin, trans) -> np.ndarray:
    a = np.eye(4)
    a[:3, :3] = np.asarray(lin, dtype=float)
    a[:3, 3] = trans
    return a


def make_header(version: int, dtype, shape, *, qform=None, qcode=0, sform=None, scode=0, pixdim=None,
                slope=1.0, inter=0.0, xyzt_units=10):
    """A header with exactly these fields; qform/sform set through nibabel (set_qform also sets pixdim)."""
    hdr = nib.Nifti1Header() if version == 1 else nib.Nifti2Header()
    hdr.set_data_dtype(dtype)
    hdr.set_data_shape(shape)
    if qform is not None:
        hdr.set_qform(qform, int(qcode) if qcode in range(6) else 1)
    hdr["qform_code"] = qcode
    if sform is not None:
        hdr.set_sform(sform, int(scode) if scode in range(6) else 1)
    hdr["sform_code"] = scode
    if pixdim is not None:
        hdr["pixdim"][1 : 1 + len(pixdim)] = pixdim
    hdr["scl_slope"] = slope
    hdr["scl_inter"] = inter
    hdr["xyzt_units"] = xyzt_units
    hdr["vox_offset"] = 352 if version == 1 else 544
    hdr["descrip"] = b"ssl3d test fixture"
    return hdr


def file_bytes(hdr, data: np.ndarray, big_endian=False) -> bytes:
    if big_endian:
        hdr = hdr.as_byteswapped(">")
    dt = hdr.get_data_dtype()
    return hdr.binaryblock + b"\x00\x00\x00\x00" + np.asarray(data).astype(dt).tobytes(order="F")


def write(name: str, raw: bytes) -> Path:
    p = OUT / name
    if name.endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
            g.write(raw)
        raw = buf.getvalue()
    p.write_bytes(raw)
    return p


def ramp(shape, lo: float, hi: float, dtype) -> np.ndarray:
    """Values from lo to hi over the volume (file order), with the extremes at the first and last voxel."""
    n = int(np.prod(shape))
    v = np.linspace(lo, hi, n)
    # scramble a little so that axes are distinguishable, keeping both extremes
    idx = np.arange(n)
    perm = np.concatenate([[0], 1 + (idx[1:-1] * 7) % (n - 2), [n - 1]]) if n > 2 else idx
    v = v[perm]
    if np.issubdtype(np.dtype(dtype), np.integer):
        v = np.round(v)
    return v.astype(dtype).reshape(shape, order="F")


# --------------------------------------------------------------------------------------------------------------
# Reference values
# --------------------------------------------------------------------------------------------------------------


def sample_indices(shape):
    X, Y, Z = shape[:3]
    pts = [(0, 0, 0), (X - 1, Y - 1, Z - 1), (X - 1, 0, 0), (0, Y - 1, 0), (0, 0, Z - 1), (X // 2, Y // 3, Z // 2),
           (1 % X, 2 % Y, 3 % Z)]
    out = []
    for p in pts:
        if p not in out:
            out.append(p)
    return out


def fnum(x):
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def mat(a):
    return [[float(v) for v in row] for row in np.asarray(a, dtype=float)]


def nibabel_view(path: Path) -> dict:
    img = nib.load(str(path))
    hdr = img.header
    data = np.asanyarray(img.dataobj).astype(np.float64)
    finite = data[np.isfinite(data)]
    d3 = data.reshape(data.shape[:3]) if data.ndim > 3 and int(np.prod(data.shape[3:])) == 1 else data
    samples = []
    for ijk in sample_indices(d3.shape):
        v = d3[ijk]
        samples.append({"ijk": list(ijk), "value": fnum(v), "value_f32": fnum(np.float32(v))})
    q, qc = hdr.get_qform(coded=True)
    s, sc = hdr.get_sform(coded=True)
    return {
        "nifti_version": 2 if isinstance(hdr, nib.Nifti2Header) else 1,
        "byte_order": "big" if hdr.endianness == ">" else "little",
        "datatype": str(hdr.get_data_dtype().newbyteorder("=").name),
        "shape": [int(v) for v in img.shape],
        "zooms": [float(z) for z in hdr.get_zooms()],
        "affine": mat(img.affine),
        "qform": mat(hdr.get_qform()),
        "sform": mat(hdr.get_sform()),
        "qform_code": int(qc),
        "sform_code": int(sc),
        "qfac": float(hdr["pixdim"][0]),
        "orientation": "".join(nib.aff2axcodes(img.affine)),
        # scaling as nibabel applies it (the header fields are reset to NaN on load)
        "slope": float(img.dataobj.slope),
        "inter": float(img.dataobj.inter),
        "min": fnum(finite.min()) if finite.size else "NaN",
        "max": fnum(finite.max()) if finite.size else "NaN",
        "mean": fnum(finite.mean()) if finite.size else "NaN",
        "nan_count": int(np.isnan(data).sum()),
        "inf_count": int(np.isinf(data).sum()),
        "samples": samples,
    }


def monai_view(path: Path) -> dict:
    from monai.transforms import LoadImage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = LoadImage(image_only=True)(str(path))
    return {
        "shape": [int(v) for v in t.shape],
        "dtype": str(t.dtype).replace("torch.", ""),
        "affine": mat(t.affine.numpy()),
        "pixdim": [float(v) for v in np.asarray(t.meta["pixdim"])[1:4]],
    }


def reference(path: Path, note: str, rel: str | None = None) -> dict:
    ref = {"note": note}
    if rel:
        ref["path"] = rel
    ref["nibabel"] = nibabel_view(path)
    ref["monai"] = monai_view(path)
    return ref


# --------------------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------------------

# A typical oblique scanner geometry: zooms (0.8, 0.9, 2.5), rotated, offset.
ROT = rot("z", 25) @ rot("x", -12)
Z3 = np.array([0.8, 0.9, 2.5])
A_OBLIQUE = affine(ROT * Z3, [-41.5, 27.25, -60.0])
A_DIAG = affine(np.diag([1.25, 1.5, 3.0]), [-10.0, 20.0, 30.0])


def readable_fixtures() -> dict[str, tuple[bytes, str]]:
    f: dict[str, tuple[bytes, str]] = {}

    def add(name, hdr, data, note, big=False):
        f[name] = (file_bytes(hdr, data, big), note)

    # -- every dtype, plain and gzip --------------------------------------------------------------------------
    ranges = {
        "uint8": (0, 255),
        "int8": (-128, 127),
        "int16": (-32768, 32767),
        "uint16": (0, 65535),
        "int32": (-2147483648, 2147483647),
        "uint32": (0, 4294967295),
        "float32": (-1234.5678, 9876.54321),
        "float64": (-0.1, 1e6 + 0.3),
    }
    for dt, (lo, hi) in ranges.items():
        data = ramp(SHAPE, lo, hi, dt)
        for ext in (".nii", ".nii.gz"):
            hdr = make_header(1, dt, SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1)
            add(f"dtype_{dt}{ext}", hdr, data, f"{dt}, full value range, qform = sform = diagonal")

    # -- NIfTI-2 ----------------------------------------------------------------------------------------------
    d = ramp(SHAPE, -500.25, 1500.75, "float32")
    add("nifti2_float32.nii.gz", make_header(2, "float32", SHAPE, qform=A_OBLIQUE, qcode=1, sform=A_OBLIQUE, scode=1),
        d, "NIfTI-2, float32, oblique")
    d = ramp(SHAPE, -1000, 3000, "int16")
    add("nifti2_int16_scaled.nii", make_header(2, "int16", SHAPE, qform=A_DIAG, qcode=1, sform=A_OBLIQUE, scode=2,
                                               slope=0.1, inter=-3.3), d,
        "NIfTI-2, int16, float64 scl_slope 0.1 / scl_inter -3.3 (not float32-representable), sform wins")
    d = ramp(SHAPE, -1e-3, 2.5e5, "float64")
    add("nifti2_be_float64.nii", make_header(2, "float64", SHAPE, qform=A_OBLIQUE, qcode=1), d,
        "NIfTI-2, big endian, float64, qform only", big=True)

    # -- big endian NIfTI-1 -----------------------------------------------------------------------------------
    add("be_int16.nii", make_header(1, "int16", SHAPE, qform=A_OBLIQUE, qcode=1, sform=A_OBLIQUE, scode=1),
        ramp(SHAPE, -32768, 32767, "int16"), "big endian int16", big=True)
    add("be_float32.nii.gz", make_header(1, "float32", SHAPE, sform=A_OBLIQUE, scode=1),
        ramp(SHAPE, -3.5, 7.25, "float32"), "big endian float32, sform only", big=True)
    add("be_uint16_scaled.nii", make_header(1, "uint16", SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1,
                                            slope=2.0, inter=-100.0),
        ramp(SHAPE, 0, 65535, "uint16"), "big endian uint16 with scl_slope 2 / scl_inter -100", big=True)
    add("be_int32.nii", make_header(1, "int32", SHAPE, qform=A_DIAG, qcode=1),
        ramp(SHAPE, -2147483648, 2147483647, "int32"), "big endian int32", big=True)

    # -- scl_slope / scl_inter --------------------------------------------------------------------------------
    add("scl_int16_ct.nii.gz", make_header(1, "int16", SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1,
                                           slope=0.5, inter=-1024.0),
        ramp(SHAPE, -2000, 8000, "int16"), "int16 CT-style scaling: slope 0.5, inter -1024")
    add("scl_float32_slope.nii", make_header(1, "float32", SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1,
                                             slope=0.3, inter=1.7),
        ramp(SHAPE, -10.0, 10.0, "float32"), "float32 data with slope 0.3, inter 1.7 (float32-stored)")
    add("scl_slope0.nii", make_header(1, "int16", SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1,
                                      slope=0.0, inter=55.0),
        ramp(SHAPE, -300, 300, "int16"), "scl_slope 0 means no scaling (inter ignored)")
    add("scl_slope_nan.nii", make_header(1, "int16", SHAPE, qform=A_DIAG, qcode=1, slope=float("nan"), inter=7.0),
        ramp(SHAPE, -300, 300, "int16"), "scl_slope NaN means no scaling")
    add("scl_uint8_slope_inter.nii.gz", make_header(1, "uint8", SHAPE, qform=A_DIAG, qcode=1, slope=1 / 255,
                                                    inter=-0.5),
        ramp(SHAPE, 0, 255, "uint8"), "uint8 with slope 1/255, inter -0.5")
    add("scl_int8_inter_only.nii", make_header(1, "int8", SHAPE, qform=A_DIAG, qcode=1, slope=1.0, inter=100.0),
        ramp(SHAPE, -128, 127, "int8"), "int8 with slope 1 and inter 100")

    # -- geometry ---------------------------------------------------------------------------------------------
    g = ramp(SHAPE, 0, 1000, "int16")
    a_sform_only = affine(rot("y", 30) @ np.diag([1.1, 0.7, 2.0]), [12.0, -8.5, 101.0])
    add("sform_only.nii", make_header(1, "int16", SHAPE, sform=a_sform_only, scode=2, pixdim=[1.1, 0.7, 2.0]), g,
        "sform_code 2, qform_code 0, oblique sform")
    a_qneg = affine(rot("z", 40) @ rot("y", -15) @ np.diag([0.9, 1.2, -2.2]), [-90.0, 110.0, -35.5])
    add("qform_only_qfac_neg.nii.gz",
        make_header(1, "int16", SHAPE, qform=a_qneg, qcode=1, sform=A_DIAG, scode=0), g,
        "qform_code 1 with qfac = -1 and a rotated quaternion; sform_code 0 (stale srow ignored)")
    add("qform_only_identity_quat.nii",
        make_header(1, "int16", SHAPE, qform=affine(np.diag([2.0, 2.0, 2.0]), [1, 2, 3]), qcode=4), g,
        "qform_code 4 (MNI), identity quaternion")
    add("no_xform.nii", make_header(1, "int16", (5, 6, 8), pixdim=[0.75, 1.5, 2.25]),
        ramp((5, 6, 8), 0, 1000, "int16"), "sform_code = qform_code = 0: nibabel pixdim fallback (x flipped, centred)")
    add("no_xform_zero_neg_pixdim.nii", make_header(1, "int16", SHAPE, pixdim=[0.0, -2.0, 3.0]), g,
        "no xform; pixdim[1] = 0 (nibabel sets 1) and pixdim[2] = -2 (nibabel takes abs)")
    a_s2 = affine(rot("x", 20) @ np.diag([1.25, 1.5, 3.0]), [5.0, 6.0, 7.0])
    add("both_differ_sform_wins.nii.gz",
        make_header(1, "int16", SHAPE, qform=A_DIAG, qcode=1, sform=a_s2, scode=1), g,
        "qform and sform both set, different rotation/offset, same zooms: sform wins, no MONAI repair")
    hdr = make_header(1, "int16", SHAPE, qform=A_OBLIQUE, qcode=1, sform=A_OBLIQUE, scode=1)
    hdr["pixdim"][0] = 0.0
    add("qfac_zero.nii", hdr, g, "pixdim[0] (qfac) = 0: nibabel sets it to 1")
    hdr = make_header(1, "int16", SHAPE, qform=A_OBLIQUE, qcode=1, sform=A_DIAG, scode=9)
    add("bad_sform_code.nii", hdr, g, "sform_code 9 is invalid: nibabel sets it to 0, so the qform is used")

    # -- MONAI header repair (correct_nifti_header_if_necessary) ------------------------------------------------
    a_q = affine(rot("z", 10) @ np.diag([1.0, 1.0, 2.5]), [-20.0, 30.0, 40.0])
    a_s_bad = affine(rot("z", 10) @ np.diag([2.0, 2.0, 5.0]), [-20.0, 30.0, 40.0])
    add("repair_sform_mismatch.nii",
        make_header(1, "int16", SHAPE, qform=a_q, qcode=1, sform=a_s_bad, scode=1), g,
        "sform column norms (2,2,5) != pixdim (1,1,2.5), qform matches: MONAI sets sform = qform")
    add("repair_sform_mismatch_no_qform.nii.gz",
        make_header(1, "int16", SHAPE, sform=a_s_bad, scode=1, pixdim=[1.0, 1.0, 2.5]), g,
        "sform mismatches pixdim, qform_code 0: MONAI still uses get_qform() (identity rotation, zero offset)")
    # 4-D (t = 1) cases: MONAI's affine_to_spacing(affine, r=4) includes the translation column, so the
    # 4th "zoom" is sqrt(|t|^2 + 1) and is compared with pixdim[4].
    shape4 = SHAPE + (1,)
    g4 = ramp(shape4, 0, 1000, "int16")
    t = np.array([1.0, 1.0, 1.0])  # |t|^2 + 1 = 4 -> the 4th column norm is 2
    a_s4 = affine(rot("x", 15) @ np.diag([1.0, 1.5, 2.0]), t)
    hdr = make_header(1, "int16", shape4, qform=affine(np.diag([1.0, 1.5, 2.0]), [50.0, 60.0, 70.0]), qcode=1,
                      sform=a_s4, scode=0)
    hdr["pixdim"][4] = 2.0
    add("repair_4d_qform_mismatch.nii", hdr, g4,
        "4-D t=1, sform_code 0; with r=4 the qform's 4th norm (sqrt(50^2+60^2+70^2+1)) != pixdim[4] = 2 but the "
        "sform's (sqrt(3+1) = 2) matches: MONAI rebuilds the qform from the sform")
    hdr = make_header(1, "int16", shape4, qform=a_q, qcode=1, sform=a_s_bad, scode=1)
    hdr["pixdim"][4] = 1.0
    add("repair_4d_neither.nii.gz", hdr, g4,
        "4-D t=1, sform spatially mismatched, qform spatially fine but its 4th norm != pixdim[4]: neither matches, "
        "MONAI resets the zooms to the sform's norms and keeps the sform")
    add("t1_4d.nii.gz", make_header(1, "float32", shape4, qform=A_OBLIQUE, qcode=1, sform=A_OBLIQUE, scode=1),
        ramp(shape4, -1.0, 1.0, "float32"), "ordinary 4-D file with one volume: loads as 3-D")
    hdr = make_header(1, "int16", (4, 5, 6, 1, 1), qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1)
    add("t1_5d.nii", hdr, ramp((4, 5, 6, 1, 1), 0, 50, "int16"), "5-D (4,5,6,1,1): loads as 3-D; MONAI skips repair")

    # -- odd layouts ------------------------------------------------------------------------------------------
    hdr = make_header(1, "float32", SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1)
    hdr["vox_offset"] = 416
    ext = np.array([64, 0], dtype="<i4").tobytes() + b"ssl3d test extension".ljust(56, b"\x00")
    data = ramp(SHAPE, 0.0, 1.0, "float32")
    raw = hdr.binaryblock + b"\x01\x00\x00\x00" + ext + data.astype("<f4").tobytes(order="F")
    f["extension_vox_offset_416.nii"] = (raw, "one 64-byte header extension; data at vox_offset 416")
    hdr = make_header(1, "int16", SHAPE, qform=A_OBLIQUE, qcode=1, sform=A_OBLIQUE, scode=1)
    hdr["vox_offset"] = 352 + 208 + 96
    ext = (np.array([208, 6], dtype="<i4").tobytes() + b"first extension (comment)".ljust(200, b"\x00")
           + np.array([96, 4], dtype="<i4").tobytes() + b"second extension".ljust(88, b"\x00"))
    raw = hdr.binaryblock + b"\x01\x00\x00\x00" + ext + g.astype("<i2").tobytes(order="F")
    f["extensions_two.nii"] = (raw, "two header extensions, the second starting past byte 540; data at vox_offset 656")
    hdr = make_header(1, "uint8", (1, 1, 1), qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1)
    add("single_voxel.nii", hdr, np.full((1, 1, 1), 42, dtype="uint8"), "a 1x1x1 volume")
    hdr = make_header(1, "int16", SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1)
    hdr["bitpix"] = 8
    add("bitpix_wrong.nii", hdr, g, "bitpix 8 for int16: nibabel fixes bitpix from the datatype")
    hdr = make_header(1, "float32", SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1)
    add("nonfinite_float32.nii", hdr,
        np.where(np.arange(np.prod(SHAPE)).reshape(SHAPE, order="F") % 17 == 3, np.nan,
                 np.where(np.arange(np.prod(SHAPE)).reshape(SHAPE, order="F") % 29 == 5, np.inf,
                          ramp(SHAPE, -5.0, 5.0, "float32"))).astype("float32"),
        "float32 with NaN and +Inf voxels: NonFiniteDataError unless allowed")
    return f


def error_fixtures(valid: dict[str, bytes]) -> dict[str, tuple[bytes, str, str]]:
    """name -> (bytes as stored on disk, kind, note). Names ending in .gz are stored as given (not re-gzipped)."""
    e: dict[str, tuple[bytes, str, str]] = {}
    base = valid["dtype_int16.nii"]

    def gz(raw: bytes) -> bytes:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
            g.write(raw)
        return buf.getvalue()

    big = file_bytes(make_header(1, "float32", (16, 16, 16), qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1),
                     np.random.default_rng(0).normal(size=(16, 16, 16)).astype("float32"))
    zbig = gz(big)
    e["err_truncated.nii.gz"] = (zbig[: len(zbig) * 6 // 10], "truncated_gzip", "gzip stream cut at 60%")
    e["err_truncated_header.nii.gz"] = (gz(base)[:20], "truncated_gzip", "gzip stream cut after 20 bytes")
    corrupt = bytearray(zbig)
    for i in range(40, len(corrupt) - 20, 97):
        corrupt[i] ^= 0x5A
    e["err_corrupt_gzip.nii.gz"] = (bytes(corrupt), "corrupt_gzip", "deflate data with flipped bytes")
    e["err_truncated_data.nii"] = (base[: 352 + 100], "truncated_data", "plain file cut inside the voxel data")
    e["err_header_only.nii"] = (base[:200], "truncated_header", "only 200 bytes: shorter than a header")
    e["err_empty.nii"] = (b"", "truncated_header", "an empty file")
    e["err_wrong_magic.nii"] = (base[:344] + b"xyz\x00" + base[348:], "wrong_magic", "magic 'xyz' instead of 'n+1'")
    e["err_not_nifti.nii"] = (b"This is not a NIfTI file, just some text.\n" * 20, "wrong_magic", "a text file")
    hdr = make_header(1, "int16", SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1)
    hdr["vox_offset"] = 100000
    e["err_vox_offset_beyond.nii"] = (file_bytes(hdr, ramp(SHAPE, 0, 10, "int16")), "vox_offset_beyond",
                                      "vox_offset 100000 in a 772-byte file")
    hdr = make_header(1, "complex64", SHAPE, qform=A_DIAG, qcode=1)
    e["err_dtype_complex64.nii"] = (file_bytes(hdr, np.zeros(SHAPE, "complex64")), "unsupported_dtype",
                                    "datatype 32 (complex64)")
    hdr = make_header(1, "int64", SHAPE, qform=A_DIAG, qcode=1)
    e["err_dtype_int64.nii.gz"] = (gz(file_bytes(hdr, np.zeros(SHAPE, "int64"))), "unsupported_dtype",
                                   "datatype 1024 (int64): nibabel reads it, ssl3d does not")
    raw = bytearray(base)
    raw[70:72] = np.array([77], "<i2").tobytes()
    e["err_dtype_unknown.nii"] = (bytes(raw), "unsupported_dtype", "datatype code 77 (not a NIfTI code)")
    hdr = make_header(1, "int16", (4, 5, 6, 3), qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1)
    e["err_4d_t3.nii.gz"] = (gz(file_bytes(hdr, ramp((4, 5, 6, 3), 0, 10, "int16"))), "not_3d",
                             "4-D with 3 volumes where one 3-D volume is needed")
    hdr = make_header(1, "int16", (4, 5), qform=A_DIAG, qcode=1)
    e["err_2d.nii"] = (file_bytes(hdr, ramp((4, 5), 0, 10, "int16")), "not_3d", "a 2-D image")
    hdr = make_header(1, "float32", SHAPE, qform=A_DIAG, qcode=1, sform=A_DIAG, scode=1)
    e["err_nan_voxels.nii"] = (valid["nonfinite_float32.nii"], "non_finite", "NaN and Inf voxels")
    hdr = make_header(1, "int16", SHAPE, qform=A_DIAG, qcode=1)
    hdr["quatern_b"], hdr["quatern_c"], hdr["quatern_d"] = 0.9, 0.9, 0.0
    e["err_bad_quaternion.nii"] = (file_bytes(hdr, ramp(SHAPE, 0, 10, "int16")), "bad_quaternion",
                                   "qform_code 1 with |(b,c,d)| > 1")
    return e


# --------------------------------------------------------------------------------------------------------------
# Files written by ssl3d's own writer
# --------------------------------------------------------------------------------------------------------------

WRITTEN = {
    "written_float32_oblique.nii.gz": {
        "dtype": "float32",
        "shape": [6, 5, 4],
        "affine": mat(affine(rot("z", 20) @ rot("x", 10) @ np.diag([0.7, 0.8, 2.5]), [-90.5, 102.25, -40.0])),
        "note": "oblique rotation, anisotropic zooms",
    },
    "written_int16_flipped.nii.gz": {
        "dtype": "int16",
        "shape": [6, 5, 4],
        "affine": mat(affine(np.diag([-1.5, 1.5, 3.0]), [80.0, -60.0, -20.0])),
        "note": "x flipped (LAS, det < 0 so qfac = -1)",
    },
    "written_uint8_permuted.nii": {
        "dtype": "uint8",
        "shape": [6, 5, 4],
        "affine": mat(affine([[0, 0.9, 0], [0, 0, 4.0], [0.5, 0, 0]], [3.0, -4.0, 5.0])),
        "note": "permuted axes (SRA), strongly anisotropic",
    },
    "written_float32_sheared.nii": {
        "dtype": "float32",
        "shape": [6, 5, 4],
        "affine": mat(affine([[1.0, 0.2, 0.0], [0.0, 1.0, 0.0], [0.1, 0.0, 2.0]], [0.5, 1.5, 2.5])),
        "note": "sheared: the sform keeps the shear, the qform is its closest rotation (nibabel set_qform)",
    },
}


def written_value(dtype: str, x: int, y: int, z: int) -> float:
    """The voxel values ssl3d writes (test/io/nifti_write.test.ts uses the same formula)."""
    base = (x * 31 + y * 17 + z * 7) % 61
    if dtype == "uint8":
        return float((base * 4) % 256)
    if dtype == "int16":
        return float(base * 500 - 15000)
    return base - 20 + x * 0.125 - y / 3


NODE_WRITER = r"""
const { saveNifti } = require(process.argv[1] + '/dist/io/nifti/index.js');
const specs = JSON.parse(process.argv[2]);
const outDir = process.argv[3];
function value(dtype, x, y, z) {
  const base = (x * 31 + y * 17 + z * 7) % 61;
  if (dtype === 'uint8') return (base * 4) % 256;
  if (dtype === 'int16') return base * 500 - 15000;
  return base - 20 + x * 0.125 - y / 3;
}
(async () => {
  for (const [name, s] of Object.entries(specs)) {
    const [X, Y, Z] = s.shape;
    const data = new Float32Array(X * Y * Z);
    for (let x = 0; x < X; x++) for (let y = 0; y < Y; y++) for (let z = 0; z < Z; z++) data[(x * Y + y) * Z + z] = value(s.dtype, x, y, z);
    await saveNifti(outDir + '/' + name, data, s.shape, s.affine, { dtype: s.dtype });
  }
})().catch((e) => { console.error(e); process.exit(1); });
"""


def make_written() -> dict:
    if not (ROOT / "dist" / "io" / "nifti" / "index.js").exists():
        sys.exit("dist/io/nifti/index.js is missing: run `npm run build` first")
    specs = {k: {kk: v[kk] for kk in ("dtype", "shape", "affine")} for k, v in WRITTEN.items()}
    subprocess.run(["node", "-e", NODE_WRITER, str(ROOT), json.dumps(specs), str(OUT)], check=True)
    out = {}
    for name, spec in WRITTEN.items():
        p = OUT / name
        img = nib.load(str(p))
        hdr = img.header
        data = np.asanyarray(img.dataobj).astype(np.float64)
        X, Y, Z = spec["shape"]
        want = np.zeros((X, Y, Z))
        for x in range(X):
            for y in range(Y):
                for z in range(Z):
                    want[x, y, z] = written_value(spec["dtype"], x, y, z)
        if spec["dtype"] == "float32":
            want = want.astype(np.float32).astype(np.float64)
        # nibabel's own qform for this affine (set_qform strips shears by polar decomposition)
        ref_hdr = nib.Nifti1Header()
        ref_hdr.set_qform(np.array(spec["affine"]), 1)
        q, qc = hdr.get_qform(coded=True)
        s, sc = hdr.get_sform(coded=True)
        out[name] = {
            "note": spec["note"],
            "inputs": {kk: spec[kk] for kk in ("dtype", "shape", "affine")},
            "nibabel": {
                "shape": [int(v) for v in img.shape],
                "datatype": str(hdr.get_data_dtype().name),
                "affine": mat(img.affine),
                "qform": mat(q),
                "sform": mat(s),
                "qform_code": int(qc),
                "sform_code": int(sc),
                "qfac": float(hdr["pixdim"][0]),
                "zooms": [float(v) for v in hdr.get_zooms()],
                "xyzt_units": [str(u) for u in hdr.get_xyzt_units()],
                "orientation": "".join(nib.aff2axcodes(img.affine)),
                "qform_orientation": "".join(nib.aff2axcodes(q)),
                "nibabel_set_qform": mat(ref_hdr.get_qform()),
                "data_equals_inputs": bool(np.array_equal(data, want)),
                "max_abs_diff": float(np.abs(data - want).max()),
                "min": float(data.min()),
                "max": float(data.max()),
                "mean": float(data.mean()),
            },
            "monai": monai_view(p),
        }
        if not out[name]["nibabel"]["data_equals_inputs"]:
            print(f"WARNING: {name}: nibabel reads different voxel values than written", file=sys.stderr)
    return out


# --------------------------------------------------------------------------------------------------------------


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for p in OUT.glob("*.nii*"):
        p.unlink()
    expected: dict = {
        "generator": "scripts/reference/make_nifti_fixtures.py",
        "versions": {"nibabel": nib.__version__, "numpy": np.__version__},
        "files": {},
        "errors": {},
        "written": {},
    }
    try:
        import monai
        import torch

        expected["versions"].update({"monai": monai.__version__, "torch": torch.__version__})
    except ImportError:
        sys.exit("monai and torch are needed: pip install monai torch==2.13.0 nibabel")

    readable = readable_fixtures()
    for name, (raw, note) in readable.items():
        p = write(name, raw)
        expected["files"][name] = reference(p, note)

    for name, (raw, kind, note) in error_fixtures({k: v[0] for k, v in readable.items()}).items():
        p = OUT / name
        p.write_bytes(raw)
        try:
            img = nib.load(str(p))
            np.asanyarray(img.dataobj)
            nib_err = None
        except Exception as ex:  # noqa: BLE001 - recorded for information
            nib_err = f"{type(ex).__name__}: {ex}".replace(str(OUT) + os.sep, "")[:300]
        expected["errors"][name] = {"kind": kind, "note": note, "nibabel_error": nib_err}

    if SHARED_CT.exists():
        for fn, note in (("example_ct_sm.nii.gz", "real CT (shared data, not copied)"),
                         ("example_seg.nii.gz", "real label map (shared data, not copied)")):
            p = SHARED_CT / fn
            rel = os.path.relpath(p, ROOT)
            expected["files"]["shared:" + fn] = reference(p, note, rel)
    else:
        print(f"note: {SHARED_CT} not found; the real CT is not in expected.json", file=sys.stderr)

    expected["written"] = make_written()

    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, allow_nan=False) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
