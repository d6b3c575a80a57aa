"""Parametric objects built mostly as surfaces of revolution: lamp, mug, vase, bottle.

Same conventions as :mod:`msdf.synth.furniture`: each generator maps a :class:`numpy.random.Generator` to
``(solid, caption, attributes)`` with a Z-up manifold3d solid in metres resting on z = 0.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from msdf.synth.captions import pick, sentence
from msdf.synth.furniture import Shape
from msdf.synth.solids import box, cylinder, difference, revolve, rod, torus, union


def _smooth_profile(z_knots: np.ndarray, r_knots: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Radius r(z) through the knots by monotone cubic (PCHIP) interpolation: no overshoot, so r stays positive."""
    z = np.linspace(z_knots[0], z_knots[-1], samples)
    return z, PchipInterpolator(z_knots, r_knots)(z)


def _hollow(z: np.ndarray, r: np.ndarray, wall: float, depth: float) -> list[tuple[float, float]]:
    """Closed (r, z) polygon of a vessel: outer wall r(z) up to the rim, then the inner wall r(z) - wall down
    to a floor ``depth`` below the rim, closed along the axis. Revolving it gives an open-topped solid."""
    top = z[-1]
    floor = top - depth
    outer = [(0.0, 0.0)] + list(zip(r.tolist(), z.tolist()))
    keep = z >= floor
    inner_z = np.concatenate([[floor], z[keep]])
    inner_r = np.interp(inner_z, z, r) - wall
    inner = list(zip(inner_r[::-1].tolist(), inner_z[::-1].tolist())) + [(0.0, floor)]
    return outer + inner


def vase(rng: np.random.Generator) -> Shape:
    """Vase: a surface of revolution whose profile (foot, belly, neck, lip) is drawn at random, hollow to a depth."""
    h = rng.uniform(0.2, 0.5)
    style = pick(rng, ("round", "slender", "flared", "hourglass"))
    base = rng.uniform(0.05, 0.09)
    if style == "round":
        r_knots = [base * 0.6, base * rng.uniform(1.5, 2.0), base * rng.uniform(1.2, 1.6), base * 0.55,
                   base * rng.uniform(0.55, 0.8)]
    elif style == "slender":
        r_knots = [base * 0.7, base * 0.85, base * rng.uniform(0.75, 0.95), base * 0.6, base * rng.uniform(0.65, 0.9)]
        h = max(h, 0.3)
    elif style == "flared":
        r_knots = [base * 0.7, base * 0.8, base * 0.65, base * rng.uniform(0.8, 1.1), base * rng.uniform(1.3, 1.7)]
    else:
        r_knots = [base * rng.uniform(0.9, 1.2), base * 1.1, base * 0.55, base * 1.0, base * rng.uniform(1.1, 1.4)]
    z_knots = np.array([0.0, 0.25, 0.5, 0.8, 1.0]) * h
    z, r = _smooth_profile(z_knots, np.asarray(r_knots), 28)
    wall = max(0.004, 0.08 * float(r.min()))
    depth = h * rng.uniform(0.35, 0.8)
    solid = revolve(_hollow(z, r, wall, depth), segments=40)
    adj = {"round": pick(rng, ("round", "round-bellied", "bulbous")), "slender": pick(rng, ("slender", "narrow")),
           "flared": pick(rng, ("flared", "trumpet-shaped")), "hourglass": pick(rng, ("hourglass", "waisted"))}[style]
    size = "tall" if h > 0.38 else ("small" if h < 0.27 else "")
    feats = [pick(rng, ("a wide mouth", "a flared rim", "a lip that opens outward")) if r_knots[-1] > base else
             pick(rng, ("a narrow neck", "a small opening", "")), pick(rng, ("a smooth profile", "a narrow foot", ""))]
    attrs = dict(style=style, height=h, max_radius=float(r.max()))
    return solid, sentence(rng, "vase", [size, adj], feats), attrs


def bottle(rng: np.random.Generator) -> Shape:
    """Bottle (closed solid): cylindrical or round body, rounded or sloped shoulder, long or short neck, cap."""
    style = pick(rng, ("wine", "soda", "flask"))
    rb = rng.uniform(0.03, 0.045)
    rn = rb * rng.uniform(0.28, 0.4)
    if style == "wine":
        h = rng.uniform(0.28, 0.34)
        z_knots = np.array([0.0, 0.55, 0.68, 0.75, 1.0]) * h
        r_knots = [rb, rb, rb * 0.6, rn, rn]
    elif style == "soda":
        h = rng.uniform(0.2, 0.26)
        z_knots = np.array([0.0, 0.4, 0.55, 0.85, 1.0]) * h
        r_knots = [rb, rb, rb * 0.75, rn * 1.1, rn]
    else:
        rb *= 1.4
        h = rng.uniform(0.18, 0.24)
        z_knots = np.array([0.0, 0.1, 0.3, 0.6, 0.72, 1.0]) * h
        r_knots = [rb * 0.55, rb * 0.95, rb, rb * 0.45, rn, rn]
    z, r = _smooth_profile(z_knots, np.asarray(r_knots), 30)
    profile = [(0.0, 0.0)] + list(zip(r.tolist(), z.tolist())) + [(0.0, float(z[-1]))]
    parts = [revolve(profile, segments=36)]
    cap = bool(rng.random() < 0.6)
    if cap:
        ch = rng.uniform(0.015, 0.025)
        parts.append(cylinder(rn * 1.15, h - ch, h + 0.004, segments=24))
    else:
        parts.append(torus(rn, rn * 0.18, h - 0.004, segments=24, tube_segments=8))
    adj = {"wine": pick(rng, ("tall", "wine", "slim")), "soda": pick(rng, ("soda", "short", "small")),
           "flask": pick(rng, ("round", "round-bodied", "flask-shaped"))}[style]
    feats = [pick(rng, ("a long narrow neck", "a thin neck", "a long neck")) if style == "wine" else
             pick(rng, ("a narrow neck", "a short neck", "")),
             pick(rng, ("a cap", "a screw cap", "a closed cap")) if cap else pick(rng, ("a rounded lip", "no cap"))]
    attrs = dict(style=style, height=h, body_radius=rb, cap=cap)
    return union(parts), sentence(rng, "bottle", [adj], feats), attrs


def mug(rng: np.random.Generator) -> Shape:
    """Mug: hollow straight or tapered cup with a floor and a round (half-torus) or square (three bars) handle."""
    h = rng.uniform(0.08, 0.12)
    r = rng.uniform(0.035, 0.05)
    taper = bool(rng.random() < 0.35)
    r_top = r * rng.uniform(1.1, 1.25) if taper else r
    wall = rng.uniform(0.004, 0.006)
    z = np.linspace(0.0, h, 6)
    rz = r + (r_top - r) * z / h
    # turn the body by half a facet so the handle (in the y = 0 plane) meets facets, not the revolve seam edges
    body = revolve(_hollow(z, rz, wall, h - 0.008), segments=40).rotate((0.0, 0.0, 4.5))
    handle_style = pick(rng, ("round", "round", "square"))
    ht = rng.uniform(0.005, 0.008)
    zc = h * rng.uniform(0.45, 0.55)
    span = h * rng.uniform(0.28, 0.38)
    if handle_style == "round":
        ring = torus(span, ht, segments=32, tube_segments=10).rotate((90.0, 0.0, 0.0))
        x0 = float(np.interp(zc, z, rz))
        handle = ring.translate((x0, 0.0, zc))
    else:
        reach = span * 1.1
        x0 = float(np.interp(zc, z, rz)) - wall / 2
        handle = union([rod((x0, 0, zc + span), (x0 + reach, 0, zc + span), ht, square=True),
                        rod((x0 + reach, 0, zc + span + ht), (x0 + reach, 0, zc - span - ht), ht, square=True),
                        rod((x0, 0, zc - span), (x0 + reach, 0, zc - span), ht, square=True)])
    cavity = revolve([(0.0, 0.008), (float(np.interp(0.008, z, rz)) - wall, 0.008), (r_top - wall, h + 0.01),
                      (0.0, h + 0.01)], segments=40)
    solid = union([body, difference(handle, [cavity])])
    size = "tall" if h > 0.105 else ("short" if h < 0.09 else "")
    shape = "tapered" if taper else pick(rng, ("straight-sided", "cylindrical", ""))
    noun = pick(rng, ("mug", "mug", "coffee mug", "tea mug"))
    feats = [pick(rng, ("a round handle", "a curved handle", "a loop handle")) if handle_style == "round" else
             pick(rng, ("a square handle", "an angular handle", "a boxy handle"))]
    attrs = dict(height=h, radius=r, tapered=taper, handle=handle_style)
    return solid, sentence(rng, noun, [size, shape], feats), attrs


def lamp(rng: np.random.Generator) -> Shape:
    """Lamp: round or square base, straight pole (desk or floor height), drum, cone or dome shade closed on top."""
    floor = bool(rng.random() < 0.5)
    pole_h = rng.uniform(1.1, 1.5) if floor else rng.uniform(0.25, 0.45)
    base_r = rng.uniform(0.12, 0.18) if floor else rng.uniform(0.07, 0.11)
    base_t = rng.uniform(0.02, 0.04)
    round_base = bool(rng.random() < 0.65)
    parts = [cylinder(base_r, 0.0, base_t, segments=40) if round_base else
             box((2 * base_r, 2 * base_r, base_t), (0, 0, base_t / 2))]
    pole_r = rng.uniform(0.008, 0.014) if not floor else rng.uniform(0.012, 0.02)
    parts.append(cylinder(pole_r, base_t * 0.5, pole_h, segments=16))
    shade = pick(rng, ("drum", "cone", "dome"))
    sr = rng.uniform(0.16, 0.25) if floor else rng.uniform(0.1, 0.16)
    sh = sr * rng.uniform(0.8, 1.3)
    z0 = pole_h - sh * 0.6
    if shade == "drum":
        parts.append(cylinder(sr, z0, z0 + sh, radius_top=sr * 0.92, segments=40))
    elif shade == "cone":
        parts.append(cylinder(sr, z0, z0 + sh, radius_top=sr * rng.uniform(0.35, 0.55), segments=40))
    else:
        ang = np.linspace(0.0, np.pi / 2, 12)
        prof = [(0.0, z0)] + [(sr * np.cos(a), z0 + sh * np.sin(a)) for a in ang]
        parts.append(revolve(prof, segments=40))
    arm = bool(rng.random() < 0.3) and not floor
    if arm:
        # a bent desk lamp: the shade sits on an angled arm instead of straight on the pole
        parts = parts[:2]
        tip = (sr * 1.2, 0.0, pole_h + sr * 0.5)
        parts.append(rod((0.0, 0.0, pole_h - pole_r), tip, pole_r))
        parts.append(cylinder(sr, tip[2] - sh * 0.6, tip[2] + sh * 0.4, xy=tip[:2],
                              radius_top=sr * 0.5, segments=40))
        shade = "cone"
    noun = pick(rng, ("floor lamp", "standing lamp")) if floor else pick(rng, ("desk lamp", "table lamp", "lamp"))
    shade_words = {"drum": pick(rng, ("a drum shade", "a cylindrical shade")),
                   "cone": pick(rng, ("a conical shade", "a cone-shaped shade", "a tapered shade")),
                   "dome": pick(rng, ("a dome shade", "a rounded shade", "a bell-shaped shade"))}[shade]
    feats = [shade_words, pick(rng, ("a round base", "a disc base")) if round_base else
             pick(rng, ("a square base", "a square foot")), "an angled arm" if arm else ""]
    attrs = dict(floor=floor, height=float(pole_h), shade=shade, round_base=round_base, arm=arm)
    return union(parts), sentence(rng, noun, ["tall" if floor and pole_h > 1.35 else ""], feats), attrs
