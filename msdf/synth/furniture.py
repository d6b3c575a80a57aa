"""Parametric furniture: chair, table, stool, sofa, shelf.

Each generator takes a :class:`numpy.random.Generator` and returns ``(solid, caption, attributes)``: a Z-up
manifold3d solid in metres (x = width, y = depth with the front at -y, z = up, resting on z = 0), a caption naming
the class and the sampled attributes, and the attributes as a JSON-serialisable dict.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from msdf.synth.captions import NUMBER_WORDS, pick, sentence
from msdf.synth.solids import Manifold, box, cylinder, rod, torus, union

Shape = tuple[Manifold, str, dict[str, Any]]


def _leg(x: float, y: float, z0: float, z1: float, half: float, square: bool) -> Manifold:
    """A vertical leg of half-thickness ``half`` (square section or round) from z0 to z1 at (x, y)."""
    if square:
        return box((2 * half, 2 * half, z1 - z0), (x, y, (z0 + z1) / 2))
    return cylinder(half, z0, z1, (x, y), segments=16)


def _four_legs(w: float, d: float, inset: float, z1: float, half: float, square: bool) -> list[Manifold]:
    """Four legs under the corners of a w x d rectangle, inset from its edges."""
    xs, ys = w / 2 - inset - half, d / 2 - inset - half
    return [_leg(sx * xs, sy * ys, 0.0, z1, half, square) for sx in (-1, 1) for sy in (-1, 1)]


def chair(rng: np.random.Generator) -> Shape:
    """Chair: four legs (round or square, thin or sturdy), seat, a back (panel, vertical slats or ladder rails) of
    varied height, optional armrests and optional stretchers between the legs."""
    seat_h = rng.uniform(0.42, 0.5)
    w, d, t = rng.uniform(0.4, 0.56), rng.uniform(0.38, 0.5), rng.uniform(0.03, 0.055)
    sturdy = bool(rng.random() < 0.5)
    half = rng.uniform(0.022, 0.03) if sturdy else rng.uniform(0.011, 0.016)
    square = bool(rng.random() < 0.5)
    back_h = rng.uniform(0.25, 0.65)
    back_style = pick(rng, ("panel", "slats", "rails"))
    arms = bool(rng.random() < 0.45)
    stretchers = bool(rng.random() < 0.35)

    parts = [box((w, d, t), (0, 0, seat_h - t / 2))]
    parts += _four_legs(w, d, 0.01, seat_h - t / 2, half, square)
    top = seat_h + back_h
    yb = d / 2 - 0.01 - half
    xs = w / 2 - 0.01 - half
    # rear posts continue the rear legs up to the top of the back
    parts += [_leg(sx * xs, yb, seat_h - t, top, half, square) for sx in (-1, 1)]
    bt = max(0.02, half * 1.4)
    if back_style == "panel":
        parts.append(box((2 * xs, bt, back_h * 0.85), (0, yb, top - back_h * 0.85 / 2)))
        back_words = pick(rng, ("a solid back", "a solid backrest", "a panel back"))
    elif back_style == "slats":
        n = int(rng.integers(3, 6))
        rail = 0.06
        parts.append(box((2 * xs, bt, rail), (0, yb, top - rail / 2)))
        for x in np.linspace(-xs, xs, n + 2)[1:-1]:
            parts.append(box((0.025, bt * 0.8, back_h - rail), (x, yb, seat_h + (back_h - rail) / 2)))
        back_words = pick(rng, (f"{NUMBER_WORDS[n]} vertical slats in the back", "a slatted back", "a spindle back"))
    else:
        n = int(rng.integers(2, 5))
        for z in np.linspace(seat_h + back_h * 0.35, top - 0.03, n):
            parts.append(box((2 * xs, bt * 0.8, 0.05), (0, yb, z)))
        back_words = pick(rng, (f"a ladder back with {NUMBER_WORDS[n]} rails", "a ladder back",
                                "horizontal rails in the back"))
    if arms:
        arm_z = seat_h + rng.uniform(0.18, 0.26)
        for sx in (-1, 1):
            parts.append(box((0.05, d * 0.95, 0.03), (sx * (xs + half * 0.5), -0.02, arm_z)))
            parts.append(_leg(sx * xs, -(d / 2 - 0.01 - half), seat_h - t, arm_z, half * 0.9, square))
    if stretchers:
        z = seat_h * 0.3
        ys = d / 2 - 0.01 - half
        for sx in (-1, 1):
            parts.append(rod((sx * xs, -ys, z), (sx * xs, ys, z), half * 0.6, square=square))
        parts.append(rod((-xs, 0, z + 0.05), (xs, 0, z + 0.05), half * 0.6, square=square))

    height = "tall" if back_h > 0.5 else ("low-backed" if back_h < 0.33 else "")
    leg_words = pick(rng, ("sturdy", "thick", "chunky") if sturdy else ("thin", "slender", "skinny"))
    leg_shape = pick(rng, ("square", "straight") if square else ("round", "turned", "cylindrical"))
    feats = [f"four {leg_words} {leg_shape} legs" if rng.random() < 0.5 else f"four {leg_words} legs", back_words]
    if arms:
        feats.append(pick(rng, ("armrests", "arms", "two armrests")))
    if stretchers:
        feats.append(pick(rng, ("stretchers between the legs", "crossbars joining the legs")))
    noun = pick(rng, ("chair", "chair", "dining chair", "side chair")) if not arms else pick(rng, ("chair", "arm chair"))
    attrs = dict(seat_height=seat_h, width=w, depth=d, back_height=back_h, back=back_style, armrests=arms,
                 sturdy_legs=sturdy, square_legs=square, stretchers=stretchers)
    return union(parts), sentence(rng, noun, [height], feats), attrs


def table(rng: np.random.Generator) -> Shape:
    """Table: round, square or rectangular top; dining or coffee height; four legs or a single pedestal
    (with a disc foot or a cross of feet)."""
    top_shape = pick(rng, ("round", "rectangular", "rectangular", "square"))
    low = bool(rng.random() < 0.3)
    h = rng.uniform(0.38, 0.48) if low else rng.uniform(0.71, 0.78)
    t = rng.uniform(0.025, 0.05)
    if top_shape == "round":
        r = rng.uniform(0.35, 0.65)
        w = d = 2 * r
        top = cylinder(r, h - t, h, segments=48)
    else:
        w = rng.uniform(0.7, 1.0) if top_shape == "square" else rng.uniform(1.0, 1.8)
        d = w if top_shape == "square" else rng.uniform(0.6, 0.95)
        top = box((w, d, t), (0, 0, h - t / 2))
    pedestal = bool(rng.random() < (0.6 if top_shape == "round" else 0.2))
    parts = [top]
    if pedestal:
        cr = rng.uniform(0.04, 0.08)
        parts.append(cylinder(cr, 0.0, h - t / 2, segments=24))
        foot = pick(rng, ("disc", "cross"))
        span = 0.35 * min(w, d) + 0.1
        if foot == "disc":
            parts.append(cylinder(span, 0.0, rng.uniform(0.025, 0.05), radius_top=span * 0.85, segments=40))
            base = pick(rng, ("a single pedestal on a round base", "a central pedestal and a disc foot",
                              "one central column on a round foot"))
        else:
            for a in (0.0, 90.0):
                parts.append(box((2 * span, 0.06, 0.05), (0, 0, 0.025)).rotate((0.0, 0.0, a + 45.0)))
            base = pick(rng, ("a single pedestal with four feet", "a central pedestal on crossed feet",
                              "one central column on a cross base"))
        base_kind = f"pedestal-{foot}"
    else:
        half = rng.uniform(0.018, 0.035)
        square = bool(rng.random() < 0.6)
        if top_shape == "round":
            s = (w / 2 - 0.06) / np.sqrt(2)
            parts += [_leg(sx * s, sy * s, 0.0, h - t / 2, half, square) for sx in (-1, 1) for sy in (-1, 1)]
        else:
            parts += _four_legs(w, d, 0.03, h - t / 2, half, square)
        base = pick(rng, ("four legs", "four straight legs", f"four {'square' if square else 'round'} legs"))
        base_kind = "four-legs"
    noun = pick(rng, ("coffee table", "low table")) if low else pick(rng, ("table", "dining table", "table"))
    size = "" if top_shape == "square" or low or w < 1.4 else pick(rng, ("long", "large"))
    attrs = dict(top=top_shape, height=h, width=w, depth=d, base=base_kind, low=low)
    return union(parts), sentence(rng, noun, [size, top_shape], [base]), attrs


def stool(rng: np.random.Generator) -> Shape:
    """Stool: round or square seat, three or four splayed legs, low or bar height, optional foot ring."""
    bar = bool(rng.random() < 0.45)
    h = rng.uniform(0.65, 0.8) if bar else rng.uniform(0.4, 0.5)
    round_seat = bool(rng.random() < 0.7)
    r = rng.uniform(0.15, 0.2)
    t = rng.uniform(0.03, 0.05)
    n = int(rng.choice([3, 4]))
    ring = bool(rng.random() < (0.7 if bar else 0.3))
    seat = cylinder(r, h - t, h, segments=40) if round_seat else box((1.8 * r, 1.8 * r, t), (0, 0, h - t / 2))
    parts = [seat]
    r_top, r_bot = 0.6 * r, r + rng.uniform(0.02, 0.09) * h
    leg_r = rng.uniform(0.013, 0.02)
    angles = np.arange(n) * 2 * np.pi / n + np.pi / 4
    for a in angles:
        c, s = np.cos(a), np.sin(a)
        parts.append(rod((r_bot * c, r_bot * s, 0.0), (r_top * c, r_top * s, h - t * 0.5), leg_r))
    if ring:
        z = 0.3 * h
        ring_r = r_bot + (r_top - r_bot) * z / (h - t * 0.5)
        parts.append(torus(ring_r, leg_r * 0.7, z, segments=40, tube_segments=8))
    noun = pick(rng, ("bar stool", "tall stool")) if bar else pick(rng, ("stool", "low stool", "stool"))
    seat_words = "round" if round_seat else "square"
    feats = [f"{NUMBER_WORDS[n]} splayed legs" if rng.random() < 0.5 else f"{NUMBER_WORDS[n]} legs"]
    if ring:
        feats.append(pick(rng, ("a foot ring", "a round footrest", "a ring joining the legs")))
    attrs = dict(height=h, round_seat=round_seat, legs=n, foot_ring=ring, bar=bar)
    return union(parts), sentence(rng, noun, [seat_words], feats), attrs


def sofa(rng: np.random.Generator) -> Shape:
    """Sofa: base, backrest, 1-3 seat cushions, square/rounded/no arms, short legs or a plinth."""
    n = int(rng.integers(1, 4))
    seat_w = rng.uniform(0.55, 0.7)
    arm_style = pick(rng, ("square", "rounded", "none"))
    arm_w = 0.0 if arm_style == "none" else rng.uniform(0.1, 0.2)
    w = n * seat_w + 2 * arm_w
    d = rng.uniform(0.8, 0.95)
    legs = bool(rng.random() < 0.6)
    lift = rng.uniform(0.06, 0.14) if legs else 0.0
    base_top = lift + rng.uniform(0.22, 0.3)
    cushion = rng.uniform(0.1, 0.15)
    back_top = lift + rng.uniform(0.72, 0.92)
    back_d = rng.uniform(0.15, 0.25)
    parts = [box((w, d, base_top - lift), (0, 0, (lift + base_top) / 2)),
             box((w, back_d, back_top - lift), (0, d / 2 - back_d / 2, (lift + back_top) / 2))]
    gap = 0.012
    cw = (w - 2 * arm_w - (n + 1) * gap) / n
    for i in range(n):
        x = -w / 2 + arm_w + gap + cw / 2 + i * (cw + gap)
        parts.append(box((cw, d - back_d - 0.03, cushion), (x, -back_d / 2 - 0.015, base_top + cushion / 2 - 0.01)))
    arm_top = base_top + cushion + rng.uniform(0.08, 0.2)
    for sx in (-1, 1):
        x = sx * (w / 2 - arm_w / 2)
        if arm_style == "square":
            parts.append(box((arm_w, d, arm_top - lift), (x, 0, (lift + arm_top) / 2)))
        elif arm_style == "rounded":
            rr = arm_w / 2
            parts.append(box((arm_w, d, arm_top - rr - lift), (x, 0, (lift + arm_top - rr) / 2)))
            parts.append(rod((x, -d / 2, arm_top - rr), (x, d / 2, arm_top - rr), rr, segments=20))
    if legs:
        parts += _four_legs(w, d, 0.04, lift + 0.01, 0.02, bool(rng.random() < 0.5))
    seats = {1: pick(rng, ("one-seat", "single-seat")), 2: pick(rng, ("two-seat", "two-seater")),
             3: pick(rng, ("three-seat", "three-seater"))}[n]
    noun = pick(rng, ("sofa", "sofa", "loveseat sofa" if n == 2 else "sofa", "couch-style sofa"))
    arms = {"square": pick(rng, ("square arms", "boxy armrests")),
            "rounded": pick(rng, ("rounded arms", "rolled arms", "round armrests")),
            "none": pick(rng, ("no arms", "no armrests"))}[arm_style]
    feats = [arms, f"{NUMBER_WORDS[n]} cushion{'s' if n > 1 else ''}" if rng.random() < 0.5 else "",
             pick(rng, ("short legs", "small feet")) if legs else pick(rng, ("a solid base", "no legs"))]
    attrs = dict(seats=n, arms=arm_style, legs=legs, width=w, depth=d, back_height=back_top)
    return union(parts), sentence(rng, noun, [seats], feats), attrs


def shelf(rng: np.random.Generator) -> Shape:
    """Shelf: two side panels, 2-5 boards, optional back panel and plinth; low or tall."""
    n = int(rng.integers(2, 6))
    h = rng.uniform(0.7, 2.0)
    w = rng.uniform(0.5, 1.2)
    d = rng.uniform(0.25, 0.4)
    pt = rng.uniform(0.018, 0.03)
    back = bool(rng.random() < 0.5)
    plinth = bool(rng.random() < 0.4)
    z0 = 0.08 if plinth else 0.0
    parts = [box((pt, d, h), (sx * (w / 2 - pt / 2), 0, h / 2)) for sx in (-1, 1)]
    for z in np.linspace(z0 + pt / 2, h - pt / 2, n):
        parts.append(box((w - pt, d, pt), (0, 0, z)))
    if plinth:
        parts.append(box((w - pt, pt, z0 + pt / 2), (0, -d / 2 + pt, (z0 + pt / 2) / 2)))
    if back:
        parts.append(box((w - pt, 0.012, h - z0), (0, d / 2 - 0.006, (h + z0) / 2)))
    size = "tall" if h > 1.5 else ("low" if h < 1.0 else "")
    noun = pick(rng, ("bookshelf", "shelf", "shelf unit", "bookcase shelf"))
    feats = [pick(rng, (f"{NUMBER_WORDS[n]} shelves", f"{NUMBER_WORDS[n]} boards", f"{NUMBER_WORDS[n]} levels")),
             pick(rng, ("a closed back", "a back panel")) if back else pick(rng, ("an open back", "no back panel")),
             pick(rng, ("a plinth", "a kick board at the bottom")) if plinth else ""]
    attrs = dict(boards=n, height=h, width=w, depth=d, back=back, plinth=plinth)
    return union(parts), sentence(rng, noun, [size], feats), attrs
