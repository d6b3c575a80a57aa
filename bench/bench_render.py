"""Benchmark headless rendering: msdf.render's ray caster vs Open3D's Filament OffscreenRenderer (Mesa CPU Vulkan).

Same meshes (the synthetic classes plus the repository's real test meshes), same camera (eye, centre, vertical field
of view), same image size. Reported per renderer: start-up (constructing the renderer and its first frame) and the
median seconds per further frame over ``--repeats`` passes. Agreement: the IoU of the two renderers' foreground
masks per mesh (shadows off, white background), which checks that the ray caster's camera and geometry are right.

    python bench/bench_render.py                 # 512x512, both renderers
    python bench/bench_render.py --size 256 --no-filament

Writes ``bench/results/render.json``. Timings on a shared machine are inflated by contention; compare medians.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.meshio import load_mesh  # noqa: E402
from msdf.render import Renderer  # noqa: E402
from msdf.synth import CLASSES, generate  # noqa: E402


def meshes() -> list[tuple[str, object]]:
    out = [(c, generate(c, 0).mesh) for c in CLASSES]
    for f in sorted((REPO / "tests" / "data" / "watertight").iterdir()):
        out.append((f.stem, load_mesh(f)))
    return out


class Filament:
    """Open3D's OffscreenRenderer with the same camera as :class:`msdf.render.Renderer` (the baseline)."""

    def __init__(self, size: int, camera_of: Renderer):
        from open3d.visualization import rendering

        self.rendering = rendering
        self.r = rendering.OffscreenRenderer(size, size)
        self.r.scene.set_background([1.0, 1.0, 1.0, 1.0])
        self.mat = rendering.MaterialRecord()
        self.mat.shader = "defaultLit"
        self.mat.base_color = [0.6, 0.68, 0.8, 1.0]
        self.cam = camera_of

    def render(self, mesh) -> np.ndarray:
        import open3d as o3d

        m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(mesh.vertices)),
                                      o3d.utility.Vector3iVector(np.asarray(mesh.faces)))
        m.compute_vertex_normals()
        v = np.asarray(mesh.vertices)
        center = (v.min(0) + v.max(0)) / 2
        radius = float(np.linalg.norm(v - center, axis=1).max())
        eye, _ = self.cam.camera(center, radius)
        self.r.scene.clear_geometry()
        self.r.scene.add_geometry("m", m, self.mat)
        self.r.setup_camera(self.cam.fov, center.astype(np.float32), eye.astype(np.float32),
                            np.array([0, 1, 0], np.float32))
        return np.asarray(self.r.render_to_image())


def fg(img: np.ndarray) -> np.ndarray:
    return (img[..., :3].astype(int) < 245).any(-1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-filament", action="store_true", help="only the ray caster")
    args = ap.parse_args()
    data = meshes()
    result: dict = {"machine": platform.platform(), "python": platform.python_version(), "size": args.size,
                    "meshes": len(data), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "renderers": {}}

    t0 = time.perf_counter()
    ray = Renderer(size=(args.size, args.size))
    ray.render(data[0][1])
    ray_start = time.perf_counter() - t0
    ray_frames = []
    for _ in range(args.repeats):
        for _, m in data:
            t = time.perf_counter()
            ray.render(m)
            ray_frames.append(time.perf_counter() - t)
    result["renderers"]["raycast (msdf.render)"] = dict(startup_s=ray_start, frame_s=statistics.median(ray_frames))
    print(f"raycast: startup {ray_start:.2f} s, {statistics.median(ray_frames):.3f} s/frame", flush=True)

    if not args.no_filament:
        t0 = time.perf_counter()
        fil = Filament(args.size, ray)
        fil.render(data[0][1])
        fil_start = time.perf_counter() - t0
        print(f"filament: startup (renderer + first frame) {fil_start:.1f} s", flush=True)
        fil_frames, ious = [], {}
        flat = Renderer(size=(args.size, args.size), shadows=False)
        for rep in range(args.repeats):
            for name, m in data:
                t = time.perf_counter()
                img = fil.render(m)
                fil_frames.append(time.perf_counter() - t)
                if rep == 0:
                    a, b = fg(img), fg(flat.render(m))
                    ious[name] = float((a & b).sum() / max((a | b).sum(), 1))
        result["renderers"]["open3d filament (baseline)"] = dict(startup_s=fil_start,
                                                                 frame_s=statistics.median(fil_frames))
        result["silhouette_iou"] = ious
        result["silhouette_iou_min"] = min(ious.values())

    print(f"{'renderer':32s} {'startup s':>10s} {'s/frame':>9s}   ({args.size}x{args.size}, {len(data)} meshes, "
          f"median of {args.repeats} passes)")
    for name, r in result["renderers"].items():
        print(f"{name:32s} {r['startup_s']:10.2f} {r['frame_s']:9.3f}")
    if "silhouette_iou" in result:
        print(f"silhouette IoU raycast vs filament: min {result['silhouette_iou_min']:.3f}, "
              f"median {statistics.median(result['silhouette_iou'].values()):.3f}")
    write_result("render", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
