"""The unit frame of an M-SDF (``Normalization``), defined once in :mod:`viscogrid.frame` and used by both packages.

``to_unit(x) = (x - center) / scale``, ``to_user(u) = u * scale + center``; ``Normalization.fit(vertices)`` centres the
bounding box and maps its longest side to ``[-0.9, 0.9]``. This module is the msdf-side name of that class.
"""
from viscogrid.frame import UNIT_EXTENT, Normalization

__all__ = ["Normalization", "UNIT_EXTENT"]
