"""Parametric, captioned synthetic 3D objects (watertight solids built with manifold3d booleans)."""
from msdf.synth.dataset import CLASSES, SynthShape, generate, parse_classes, write_dataset

__all__ = ["CLASSES", "SynthShape", "generate", "parse_classes", "write_dataset"]
