"""Minimal ICC v2 RGB display profiles (matrix + tone curves) written from their published primaries, so
tests can save the same skin in Display P3 and Adobe RGB (1998) without shipping profile files.

A matrix/TRC profile is what both colour spaces are: the colorants' XYZ (Bradford-adapted from D65 to the
ICC's D50 connection space, ICC.1:2001-04 annex E) and one tone curve per channel (ICC.1:2001-04 sections
6.3.1.2 and 6.5). Primaries: Display P3 (DCI-P3 primaries, D65 white, the sRGB curve; Apple 2015) and
Adobe RGB (1998) (Adobe Systems 2005: gamma 563/256).
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["display_p3_icc", "adobe_rgb_icc", "rgb_icc"]

_D50 = np.array([0.9642, 1.0, 0.8249])
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _rgb_to_xyz(primaries_xy, white_xy) -> np.ndarray:
    xyz = np.array([[x / y, 1.0, (1.0 - x - y) / y] for x, y in primaries_xy]).T
    wx, wy = white_xy
    white = np.array([wx / wy, 1.0, (1.0 - wx - wy) / wy])
    return xyz * np.linalg.solve(xyz, white)


def _adapt_to_d50(matrix: np.ndarray, white_xy) -> np.ndarray:
    wx, wy = white_xy
    white = np.array([wx / wy, 1.0, (1.0 - wx - wy) / wy])
    cone_src, cone_dst = _BRADFORD @ white, _BRADFORD @ _D50
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(cone_dst / cone_src) @ _BRADFORD
    return adapt @ matrix


def _s15f16(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15f16(v) for v in xyz)


def _curve_gamma(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, int(round(gamma * 256))) + b"\0\0"


def _curve_srgb(n: int = 4096) -> bytes:
    x = np.linspace(0.0, 1.0, n)
    y = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    body = struct.pack(">I", n) + b"".join(struct.pack(">H", int(round(v * 65535))) for v in y)
    return b"curv\0\0\0\0" + body


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + b"\0" * 8 + b"\0\0\0" + b"\0" * 67


def _text(text: str) -> bytes:
    return b"text\0\0\0\0" + text.encode("ascii") + b"\0"


def rgb_icc(description: str, primaries_xy, white_xy, *, gamma: float | None) -> bytes:
    """An ICC v2 display profile; ``gamma=None`` gives the sRGB tone curve."""
    colorants = _adapt_to_d50(_rgb_to_xyz(primaries_xy, white_xy), white_xy)
    curve = _curve_srgb() if gamma is None else _curve_gamma(gamma)
    tags = [
        (b"desc", _desc(description)),
        (b"cprt", _text("No copyright, use freely")),
        (b"wtpt", _xyz_tag(_D50)),
        (b"rXYZ", _xyz_tag(colorants[:, 0])),
        (b"gXYZ", _xyz_tag(colorants[:, 1])),
        (b"bXYZ", _xyz_tag(colorants[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = [], b""
    for sig, body in tags:
        while (offset + len(data)) % 4:
            data += b"\0"
        table.append(sig + struct.pack(">II", offset + len(data), len(body)))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + b"".join(_s15f16(v) for v in _D50)
        + b"\0" * 4
        + b"\0" * 16
        + b"\0" * 28
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + data


def display_p3_icc() -> bytes:
    return rgb_icc(
        "Display P3 (test)", [(0.680, 0.320), (0.265, 0.690), (0.150, 0.060)], (0.3127, 0.3290), gamma=None
    )


def adobe_rgb_icc() -> bytes:
    return rgb_icc(
        "Adobe RGB (1998) (test)",
        [(0.64, 0.33), (0.21, 0.71), (0.15, 0.06)],
        (0.3127, 0.3290),
        gamma=563 / 256,
    )
