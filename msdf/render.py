"""Headless CPU rendering of meshes: a fixed three-quarter view, lit and shadowed, by exact ray casting.

Every pixel is one (or ``supersample``² averaged) primary ray intersected with the mesh by Open3D's
``RaycastingScene`` (Embree BVH, CPU, no GPU or display needed); shading is Lambert + Blinn-Phong from a key and a
fill light plus ambient, with hard shadows from a shadow ray towards the key light, cast on the object and on a
ground plane at the mesh's lowest point. There is no start-up cost (Open3D's Filament renderer on Mesa's CPU
Vulkan pays 20-120 s for its first frame here; ``bench/bench_render.py`` measures both).

Camera: looks at the bounding-box centre from azimuth ``azimuth`` (degrees about +y, 0 = from +z) and elevation
``elevation`` (degrees above the horizon), at the distance where the bounding sphere of radius R fills the vertical
field of view ``fov`` with a margin: ``D = margin * R / sin(fov / 2)``. Image coordinates: row 0 at the top.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import open3d as o3d
import trimesh
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from msdf.atomic import atomic_write
from msdf.limits import check_image


def _unit(v: np.ndarray) -> np.ndarray:
    """Normalise the last axis."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


@dataclass
class Renderer:
    """A reusable renderer with fixed view and lighting settings; ``render(mesh)`` -> (H, W, 3) uint8 image."""

    size: tuple[int, int] = (512, 512)
    azimuth: float = 35.0
    elevation: float = 25.0
    fov: float = 35.0
    margin: float = 1.08
    supersample: int = 2
    color: tuple[float, float, float] = (0.60, 0.68, 0.80)
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    shadows: bool = True
    smooth_angle: float = 35.0

    def __post_init__(self) -> None:
        w, h = (int(s) for s in self.size)
        if w < 1 or h < 1 or self.supersample < 1:
            raise ValueError(f"render size must be positive and supersample >= 1, got {self.size}, {self.supersample}")
        check_image(w, h, self.supersample)
        self.size = (w, h)

    def camera(self, center: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Eye position (3,) and the rotation (3, 3) whose rows are the camera's right, up and backward axes."""
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        back = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
        dist = self.margin * radius / math.sin(math.radians(self.fov) / 2)
        right = _unit(np.cross([0.0, 1.0, 0.0], back))
        up = np.cross(back, right)
        return center + dist * back, np.stack([right, up, back])

    def rays(self, eye: np.ndarray, axes: np.ndarray) -> np.ndarray:
        """Primary rays (H*s, W*s, 6) float32 for a pinhole camera with vertical field of view ``fov``."""
        w, h = self.size[0] * self.supersample, self.size[1] * self.supersample
        f = (h / 2) / math.tan(math.radians(self.fov) / 2)
        xs = ((np.arange(w, dtype=np.float32) + 0.5 - w / 2) / f)[None, :, None]
        ys = ((h / 2 - np.arange(h, dtype=np.float32) - 0.5) / f)[:, None, None]
        ax = axes.astype(np.float32)
        out = np.empty((h, w, 6), dtype=np.float32)
        out[..., :3] = eye
        out[..., 3:] = xs * ax[0] + ys * ax[1] - ax[2]
        out[..., 3:] /= np.linalg.norm(out[..., 3:], axis=-1, keepdims=True)
        return out

    def render(self, mesh: trimesh.Trimesh) -> np.ndarray:
        """Render ``mesh`` (any frame; the camera frames its bounding sphere) to an (H, W, 3) uint8 image."""
        if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
            raise ValueError("render: expected a trimesh.Trimesh with at least one face")
        verts = np.asarray(mesh.vertices, dtype=np.float64)
        faces = np.asarray(mesh.faces, dtype=np.int64)
        lo, hi = verts.min(0), verts.max(0)
        center = (lo + hi) / 2
        radius = max(float(np.linalg.norm(verts - center, axis=1).max()), 1e-9)
        eye, axes = self.camera(center, radius)
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(o3d.core.Tensor(verts.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
        rays = self.rays(eye, axes).reshape(-1, 6)
        hit = scene.cast_rays(o3d.core.Tensor(rays))
        t = hit["t_hit"].numpy()
        is_hit = np.isfinite(t)
        hit_idx = np.flatnonzero(is_hit)
        miss_idx = np.flatnonzero(~is_hit)

        light = _unit(axes[0] * -0.45 + axes[1] * 0.8 + axes[2] * 0.55)   # key: upper left, towards the viewer
        fill = _unit(axes[0] * 0.7 + axes[1] * 0.1 + axes[2] * 0.7)
        bg = np.asarray(self.background, dtype=np.float32)
        img = np.empty((len(t), 3), dtype=np.float32)
        img[:] = bg

        # ground plane y = lo[1] behind the object: receives the key light's shadow only
        if self.shadows and len(miss_idx):
            dy = rays[miss_idx, 4]
            with np.errstate(divide="ignore", invalid="ignore"):
                tg = (lo[1] - eye[1]) / dy
            on_ground = np.isfinite(tg) & (tg > 0)
            g = miss_idx[on_ground]
            gp = rays[g, :3] + tg[on_ground, None].astype(np.float32) * rays[g, 3:]
            gp[:, 1] += 1e-4 * radius
            img[g[self._occluded(scene, gp, light)]] *= 0.78

        if len(hit_idx):
            d = rays[hit_idx, 3:]
            p = rays[hit_idx, :3] + t[hit_idx, None] * d
            n = self._normals(mesh, hit["primitive_ids"].numpy()[hit_idx].astype(np.int64),
                              hit["primitive_uvs"].numpy()[hit_idx])
            n = np.where((np.sum(n * d, axis=1) > 0)[:, None], -n, n)   # two-sided: face the viewer
            lam_key = np.clip(n @ light.astype(np.float32), 0.0, None)
            lam_fill = np.clip(n @ fill.astype(np.float32), 0.0, None)
            if self.shadows:
                lam_key[self._occluded(scene, p + (1e-4 * radius) * n, light)] = 0.0
            half = _unit(light.astype(np.float32)[None, :] - d)
            spec = np.clip(np.sum(n * half, axis=1), 0.0, None) ** 40 * (lam_key > 0)
            base = np.asarray(self.color, dtype=np.float32)
            shade = 0.22 + 0.72 * lam_key[:, None] + 0.28 * lam_fill[:, None]
            img[hit_idx] = np.clip(base * shade + 0.25 * spec[:, None], 0.0, 1.0)

        s = self.supersample
        img = img.reshape(self.size[1] * s, self.size[0] * s, 3)
        s = self.supersample
        if s > 1:
            img = img.reshape(self.size[1], s, self.size[0], s, 3).mean(axis=(1, 3))
        return (np.clip(img, 0.0, 1.0) ** (1 / 1.6) * 255 + 0.5).astype(np.uint8)

    def _normals(self, mesh: trimesh.Trimesh, prim: np.ndarray, uv: np.ndarray) -> np.ndarray:
        """Shading normals (P, 3): barycentric vertex normals, or the face normal across creases sharper than
        ``smooth_angle`` (so boxes keep crisp edges and curved surfaces look smooth)."""
        fn = np.asarray(mesh.face_normals, dtype=np.float32)[prim]
        tri = np.asarray(mesh.faces)[prim]
        vn = np.asarray(mesh.vertex_normals, dtype=np.float32)
        b = np.stack([1.0 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1).astype(np.float32)
        smooth = _unit(np.einsum("pk,pkc->pc", b, vn[tri]))
        crease = np.min(np.einsum("pkc,pc->pk", vn[tri], fn), axis=1) < math.cos(math.radians(self.smooth_angle))
        return np.where(crease[:, None], fn, smooth)

    @staticmethod
    def _occluded(scene: o3d.t.geometry.RaycastingScene, points: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """Whether a ray from each point (P, 3) along ``direction`` hits the mesh (bool (P,))."""
        rays = np.empty((len(points), 6), dtype=np.float32)
        rays[:, :3] = points
        rays[:, 3:] = direction
        return scene.test_occlusions(o3d.core.Tensor(rays)).numpy().astype(bool)


def save_png(image: np.ndarray, path: str | os.PathLike) -> None:
    """Write an (H, W, 3) uint8 image as PNG, atomically."""
    with atomic_write(path, suffix=".png") as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def render_mesh(mesh: trimesh.Trimesh, path: str | os.PathLike | None = None, size: tuple[int, int] = (512, 512),
                renderer: Renderer | None = None, **settings) -> np.ndarray:
    """Render one mesh from the fixed three-quarter view; write a PNG to ``path`` unless it is None.

    ``settings`` are :class:`Renderer` fields (azimuth, elevation, fov, color, ...); pass ``renderer`` to reuse one.
    Returns the (H, W, 3) uint8 image.
    """
    r = renderer or Renderer(size=size, **settings)
    img = r.render(mesh)
    if path is not None:
        save_png(img, path)
    return img


def render_many(meshes: Sequence[trimesh.Trimesh], paths: Sequence[str | os.PathLike | None] | None = None,
                size: tuple[int, int] = (512, 512), quiet: bool = False, **settings) -> list[np.ndarray]:
    """Render several meshes with one :class:`Renderer` (tqdm bar); ``paths[i]`` None = do not write image i."""
    if paths is not None and len(paths) != len(meshes):
        raise ValueError(f"render_many: {len(meshes)} meshes but {len(paths)} paths")
    r = Renderer(size=size, **settings)
    out = []
    for i, mesh in enumerate(tqdm(meshes, desc="render", unit="mesh", disable=quiet)):
        out.append(render_mesh(mesh, None if paths is None else paths[i], renderer=r))
    return out


def contact_sheet(images: Sequence[np.ndarray], labels: Sequence[str] | None = None,
                  path: str | os.PathLike | None = None, columns: int = 4, label_height: int = 28,
                  pad: int = 6) -> np.ndarray:
    """Tile images (all resized to the first one's size) in a grid of ``columns``, each label drawn under its tile.

    Long labels are wrapped to the tile width. Writes a PNG to ``path`` if given; returns the sheet (H, W, 3) uint8.
    """
    if len(images) == 0:
        raise ValueError("contact_sheet: no images")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"contact_sheet: {len(images)} images but {len(labels)} labels")
    th, tw = images[0].shape[:2]
    cols = max(1, min(int(columns), len(images)))
    rows = math.ceil(len(images) / cols)
    font = ImageFont.load_default()
    lines_per_label = 1
    wrapped: list[list[str]] = []
    if labels is not None:
        probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        for lab in labels:
            wrapped.append(_wrap(str(lab), probe, font, tw - 4))
        lines_per_label = max(len(w) for w in wrapped)
    lh = label_height if labels is not None else 0
    cell_h = th + (lh + 14 * (lines_per_label - 1) if labels is not None else 0)
    sheet = Image.new("RGB", (cols * (tw + pad) + pad, rows * (cell_h + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, img in enumerate(images):
        tile = Image.fromarray(np.asarray(img, dtype=np.uint8)[..., :3])
        if tile.size != (tw, th):
            tile = tile.resize((tw, th))
        x, y = pad + (i % cols) * (tw + pad), pad + (i // cols) * (cell_h + pad)
        sheet.paste(tile, (x, y))
        if labels is not None:
            for j, line in enumerate(wrapped[i]):
                draw.text((x + 2, y + th + 6 + 14 * j), line, fill=(20, 20, 20), font=font)
    out = np.asarray(sheet)
    if path is not None:
        save_png(out, path)
    return out


def _wrap(text: str, draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, width: int) -> list[str]:
    """Greedy word wrap of ``text`` to lines no wider than ``width`` pixels."""
    lines: list[str] = []
    cur = ""
    for word in text.split():
        trial = f"{cur} {word}".strip()
        if cur and draw.textlength(trial, font=font) > width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    return lines + [cur] if cur else lines or [""]


def is_image_path(path: str | os.PathLike) -> bool:
    """True if ``path`` names a PNG file (as opposed to an output directory)."""
    return Path(path).suffix.lower() == ".png"
