"""Export M-SDF files (or any mesh) to mesh formats and to a self-contained, offline HTML viewer page.

The HTML page embeds each mesh as base64 little-endian buffers (float32 positions, float32 vertex normals, uint32
triangle indices) in a JSON block, plus a small hand-written WebGL script (``msdf/viewer/viewer.js``): Blinn-Phong
shading with a key and a fill light, orbit by dragging, zoom with the wheel, auto-rotation. No network access, no
third-party JavaScript. Vertices are split along creases sharper than ``crease_angle`` so boxy shapes keep crisp
edges while curved surfaces shade smoothly. Coordinates are the mesh's own (user frame); the viewer frames each mesh by
its bounding sphere.
"""
from __future__ import annotations

import base64
import html
import json
import math
import os
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import trimesh

from msdf.atomic import atomic_write
from msdf.meshio import SAVE_FORMATS
from viscogrid.mesh import merged_mesh



def decimate(mesh: trimesh.Trimesh, max_faces: int) -> trimesh.Trimesh:
    """``mesh`` itself if it has at most ``max_faces`` faces, else a quadric-error decimation (Open3D) to that many."""
    if len(mesh.faces) <= max_faces:
        return mesh
    import open3d as o3d

    o3m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(mesh.vertices, dtype=np.float64)),
                                    o3d.utility.Vector3iVector(np.asarray(mesh.faces, dtype=np.int32)))
    small = o3m.simplify_quadric_decimation(int(max_faces))
    return merged_mesh(np.asarray(small.vertices), np.asarray(small.triangles))


def _b64(array: np.ndarray, dtype: str) -> str:
    """Base64 of ``array`` as contiguous little-endian ``dtype`` ('<f4' or '<u4')."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def viewer_payload(mesh: trimesh.Trimesh, title: str, max_faces: int = 200_000,
                   crease_angle: float = 35.0) -> dict:
    """The JSON record the viewer script draws: title, base64 positions (V*3 f32), normals (V*3 f32),
    indices (F*3 u32), bounding-box centre (3,) and bounding-sphere radius about it."""
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"viewer: {title!r} is not a triangle mesh with faces")
    shaded = trimesh.graph.smooth_shade(decimate(mesh, max_faces), angle=math.radians(crease_angle),
                                        facet_minarea=None)
    v = np.asarray(shaded.vertices, dtype=np.float64)
    center = (v.min(0) + v.max(0)) / 2
    radius = float(np.linalg.norm(v - center, axis=1).max())
    return dict(title=str(title), positions=_b64(v, "<f4"), normals=_b64(shaded.vertex_normals, "<f4"),
                indices=_b64(shaded.faces, "<u4"), center=center.tolist(), radius=max(radius, 1e-9))


def viewer_html(meshes_with_titles: Sequence[tuple[trimesh.Trimesh, str]], title: str = "M-SDF meshes",
                size: int = 480, max_faces: int = 200_000) -> str:
    """A complete offline HTML page showing each (mesh, title) in its own interactive card of ``size`` pixels."""
    if len(meshes_with_titles) == 0:
        raise ValueError("viewer: no meshes to show")
    data = [viewer_payload(m, t, max_faces) for m, t in meshes_with_titles]
    # No "<" may appear in the <script> data block: "</script>" would end it and "<!--" switches the HTML parser
    # into a state that swallows the next script. JSON allows the escape \u003c for every "<".
    blob = json.dumps(data).replace("<", "\\u003c")
    pkg = resources.files("msdf.viewer")
    page = pkg.joinpath("template.html").read_text(encoding="utf-8")
    script = pkg.joinpath("viewer.js").read_text(encoding="utf-8")
    if "</script" in script.lower():
        raise RuntimeError("msdf/viewer/viewer.js must not contain '</script' (it is inlined into the page)")
    return (page.replace("__MSDF_TITLE__", html.escape(title)).replace("__MSDF_SIZE__", str(int(size)))
            .replace("__MSDF_DATA__", blob).replace("__MSDF_VIEWER_JS__", script))


def write_viewer_html(meshes_with_titles: Sequence[tuple[trimesh.Trimesh, str]], path: str | os.PathLike,
                      title: str = "M-SDF meshes", size: int = 480, max_faces: int = 200_000) -> Path:
    """Write :func:`viewer_html` to ``path`` atomically; returns the path."""
    text = viewer_html(meshes_with_titles, title=title, size=size, max_faces=max_faces)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def load_for_export(src: str | os.PathLike, resolution: int = 256, method: str = "mc",
                    device: str = "cpu") -> trimesh.Trimesh:
    """The mesh to export: an ``.npz`` M-SDF file is decoded (user frame); anything else is read as a mesh."""
    if Path(src).suffix.lower() == ".npz":
        from msdf.decoder import decode

        return decode(src, resolution=resolution, method=method, device=device)
    from msdf.meshio import load_mesh

    return load_mesh(src)


def export(src: str | os.PathLike, out: str | os.PathLike, resolution: int = 256, method: str = "mc",
           device: str = "cpu", html_page: bool = False) -> list[Path]:
    """Export ``src`` (M-SDF ``.npz`` or a mesh file) to ``out`` (.glb/.obj/.ply/.stl or .html).

    With ``html_page`` a viewer page is also written beside a mesh output (same name, ``.html``).
    Returns the written paths.
    """
    from msdf.meshio import save_mesh

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in SAVE_FORMATS + (".html",):
        raise ValueError(f"{out}: unsupported output format {out.suffix or '(no suffix)'!r}; "
                         f"use one of {', '.join(SAVE_FORMATS + ('.html',))}")
    mesh = load_for_export(src, resolution=resolution, method=method, device=device)
    written = []
    if suffix != ".html":
        written.append(save_mesh(mesh, out))
    if suffix == ".html" or html_page:
        page = out if suffix == ".html" else out.with_suffix(".html")
        written.append(write_viewer_html([(mesh, Path(src).name)], page, title=f"{Path(src).name}"))
    return written


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--hide-scrollbars")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH (or /usr/bin/chromium), or None."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def browser_screenshot(page: str | os.PathLike, png: str | os.PathLike, window: tuple[int, int] = (800, 600),
                       chromium: str | None = None, timeout: float = 120.0) -> Path:
    """Open the local HTML ``page`` in headless Chromium and save a screenshot to ``png``.

    WebGL runs on Chromium's CPU SwiftShader (``--enable-unsafe-swiftshader``; ``--disable-gpu`` keeps it off any
    real GPU), so this works on machines without a display or GPU. Raises ``FileNotFoundError`` when no Chromium is
    installed and ``RuntimeError`` when it fails or writes no screenshot.
    """
    import subprocess
    import tempfile

    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("no chromium executable found (install Debian's 'chromium' package)")
    png = Path(png).resolve()
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="msdf-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
               f"--window-size={int(window[0])},{int(window[1])}", Path(page).resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not png.is_file():
        raise RuntimeError(f"{exe} could not screenshot {page} (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return png
