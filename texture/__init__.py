"""skintex measurement library: arrays in, numbers (and overlay arrays) out.

No file I/O, no pandas, no global state. Every function takes the image first, options keyword-only,
and the physical scale (``px_per_mm``) explicitly.
"""

from texture.measurement import Measurement

__all__ = ["Measurement"]
