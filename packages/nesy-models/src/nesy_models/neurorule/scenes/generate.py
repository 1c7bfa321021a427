"""Generated scene graphs: images of 3 to 10 drawn objects, their boxes, categories and every
relation, in seeded splits (train, validation, test and a zero-shot test).

A scene is laid out as groups kept 2 pixels apart: *stacks* (a ground and what stands on it:
a rider on a vehicle, or look-alikes that a pair of boxes cannot tell from it, a vehicle
hovering over the ground or a rider on a rider, see :data:`STACKS`; sometimes a frame around
the ground), *frames* holding one or two small objects, and loose objects. The
relations follow from the boxes and categories (:mod:`.relations`). Training, validation and
test scenes hold no composed triple whose category pair is in :data:`.relations.ZERO_SHOT`;
the zero-shot scenes hold one at least, and no other composed triple.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ...data.errors import DataError
from .relations import CATEGORIES, PREDICATES, PRIMITIVES, ZERO_SHOT, scene_truths
from .shapes import mask

__all__ = [
    "MAX_OBJECTS",
    "MIN_OBJECTS",
    "SPLITS",
    "SceneSet",
    "build_scenes",
    "generate_scenes",
    "render",
    "scene_splits",
]

MIN_OBJECTS, MAX_OBJECTS = 3, 10
SPLITS = ("train", "valid", "test", "zero_shot")
GAP = 2  # pixels between groups
INDEX = {name: i for i, name in enumerate(CATEGORIES)}


@dataclass(frozen=True)
class SceneSet:
    """Scenes padded to :data:`MAX_OBJECTS`: ``images`` (N, 3, S, S) uint8, ``boxes``
    (N, M, 4) int64, ``categories`` (N, M) int64 (-1 pads), ``counts`` (N,), ``truths``
    (N, len(PREDICATES), M, M) bool."""

    images: np.ndarray
    boxes: np.ndarray
    categories: np.ndarray
    counts: np.ndarray
    truths: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    @property
    def canvas(self) -> int:
        return self.images.shape[-1]

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.images, self.boxes, self.categories, self.counts, self.truths


def _object(category: str, x: int, y: int, w: int, h: int) -> tuple:
    return (category, x, y, x + w, y + h)


def _size(rng: np.random.Generator, category: str, canvas: int) -> tuple[int, int]:
    """(width, height) of an object of ``category``, in proportion to the canvas."""
    s = canvas / 64
    if category in ("bar", "plank"):
        return int(rng.integers(14, 23) * s), max(3, int(rng.integers(3, 5) * s))
    if category in ("disc", "crate"):
        side = int(rng.integers(7, 11) * s)
        return side, side
    side = int(rng.integers(5, 9) * s)
    return side, side


#: What stands on a stack's ground: a rider on a vehicle (``ride``), the same with the vehicle
#: hovering a pixel or two above the ground (``hover``: not on it), a rider on a rider
#: (``tower``: not riding), a vehicle alone, a rider alone; and how often.
STACKS = {"ride": 0.4, "hover": 0.15, "tower": 0.15, "vehicle": 0.15, "rider": 0.15}


def _stack(rng: np.random.Generator, canvas: int, zero_shot: bool) -> list[tuple]:
    """A ground, what stands on it (:data:`STACKS`), and maybe a frame around the ground;
    relative to (0, 0). The zero-shot stack is a cross riding a disc on a plank."""
    ground = "plank" if zero_shot else str(rng.choice(["bar", "plank"]))
    gw, gh = _size(rng, ground, canvas)
    kinds = list(STACKS)
    kind = "ride" if zero_shot else str(rng.choice(kinds, p=list(STACKS.values())))
    top = 24 * canvas // 64  # room above the ground
    objects = [_object(ground, 0, top, gw, gh)]
    below, left, right = top, 0, gw
    if kind == "hover":
        below -= int(rng.integers(1, 3))
    middle = {"ride": "vehicle", "hover": "vehicle", "vehicle": "vehicle", "tower": "rider"}
    riders = ["cross"] if zero_shot else ["triangle", "cross"]
    if kind in middle:
        vehicles = ["disc"] if zero_shot else ["disc", "crate"]
        category = str(rng.choice(vehicles if middle[kind] == "vehicle" else riders))
        w, h = _size(rng, category, canvas)
        x = int(rng.integers(0, max(1, gw - w + 1)))
        objects.append(_object(category, x, below - h, w, h))
        below, left, right = below - h, x, x + w
    if kind != "vehicle":
        rider = str(rng.choice(riders))
        w, h = _size(rng, rider, canvas)
        x = left + int(rng.integers(0, max(1, right - left - w + 1)))
        objects.append(_object(rider, x, below - h, w, h))
    if rng.random() < 0.5:
        m = int(rng.integers(2, 4))
        objects.insert(0, ("frame", -m, top - m, gw + m, top + gh + m))
    return objects


def _frame(rng: np.random.Generator, canvas: int) -> list[tuple]:
    """A frame with one or two small objects inside, relative to (0, 0)."""
    s = canvas / 64
    w, h = int(rng.integers(16, 27) * s), int(rng.integers(12, 20) * s)
    objects = [("frame", 0, 0, w, h)]
    inner = [c for c in CATEGORIES if c != "frame"]
    x = 2
    for _ in range(int(rng.integers(1, 3))):
        category = str(rng.choice(inner))
        ow, oh = _size(rng, category, canvas)
        ow, oh = min(ow, w - x - 2), min(oh, h - 4)
        if ow < 3:
            break
        y = int(rng.integers(2, h - oh - 1))
        objects.append(_object(category, x, y, ow, oh))
        x += ow + 2
    return objects


def _loose(rng: np.random.Generator, canvas: int) -> list[tuple]:
    category = str(rng.choice([c for c in CATEGORIES if c != "frame"]))
    w, h = _size(rng, category, canvas)
    return [_object(category, 0, 0, w, h)]


def _layout(rng: np.random.Generator, canvas: int, zero_shot: bool) -> list[tuple]:
    """Objects (category, x0, y0, x1, y1): groups placed at random, apart, in the canvas."""
    target = int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1))
    placed: list[tuple] = []
    regions: list[tuple[int, int, int, int]] = []
    first = True
    for _ in range(30):
        if len(placed) >= target:
            break
        kind = "stack" if first else str(rng.choice(["stack", "stack", "frame", "loose"]))
        group = (
            _stack(rng, canvas, zero_shot and first)
            if kind == "stack"
            else _frame(rng, canvas)
            if kind == "frame"
            else _loose(rng, canvas)
        )
        if len(placed) + len(group) > MAX_OBJECTS:
            continue
        gx0 = min(o[1] for o in group)
        gy0 = min(o[2] for o in group)
        gx1 = max(o[3] for o in group)
        gy1 = max(o[4] for o in group)
        w, h = gx1 - gx0, gy1 - gy0
        if w >= canvas or h >= canvas:
            continue
        for _ in range(20):
            x, y = int(rng.integers(0, canvas - w + 1)), int(rng.integers(0, canvas - h + 1))
            box = (x, y, x + w, y + h)
            if all(
                box[0] >= r[2] + GAP
                or r[0] >= box[2] + GAP
                or box[1] >= r[3] + GAP
                or r[1] >= box[3] + GAP
                for r in regions
            ):
                dx, dy = x - gx0, y - gy0
                placed += [(c, a + dx, b + dy, e + dx, f + dy) for c, a, b, e, f in group]
                regions.append(box)
                first = False
                break
    return placed


def render(objects: list[tuple], canvas: int, rng: np.random.Generator) -> np.ndarray:
    """The image (3, S, S) uint8 of ``objects``: a noisy grey background, each object in a
    random colour far from it (frames drawn first, so that what they hold lies on top)."""
    background = rng.uniform(0.0, 0.35)
    image = background + rng.normal(0.0, 0.04, size=(canvas, canvas, 3))
    for category, x0, y0, x1, y1 in sorted(objects, key=lambda o: o[0] != "frame"):
        colour = rng.uniform(0.45, 1.0, size=3)
        colour[rng.integers(3)] = rng.uniform(0.0, 1.0)
        pixels = mask(category, y1 - y0, x1 - x0)
        region = image[y0:y1, x0:x1]
        region[pixels] = colour + rng.normal(0.0, 0.03, size=(int(pixels.sum()), 3))
    return (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8).transpose(2, 0, 1)


def _zero_shot_pairs(truths: np.ndarray, categories: np.ndarray) -> tuple[int, int]:
    """(held-out, other) counts of the composed triples of a scene, by category pair."""
    held = other = 0
    for s, o in np.argwhere(truths[len(PRIMITIVES) :].any(axis=0)):
        pair = (CATEGORIES[categories[s]], CATEGORIES[categories[o]])
        held += pair in ZERO_SHOT
        other += pair not in ZERO_SHOT
    return held, other


def build_scenes(
    layouts: Sequence[Sequence[tuple[str, tuple[int, int, int, int]]]],
    canvas: int = 64,
    seed: int = 0,
) -> SceneSet:
    """Scenes of your own: each layout a list of (category, (x0, y0, x1, y1)), drawn with
    colours and noise from ``seed``, their relations derived as the generator's. A layout with
    an unknown category, no object, more than :data:`MAX_OBJECTS`, or a box not inside the
    canvas is a :class:`DataError` naming the scene and the object."""
    rng = np.random.default_rng(seed)
    scenes = _empty(len(layouts), canvas)
    for i, layout in enumerate(layouts):
        if not 1 <= len(layout) <= MAX_OBJECTS:
            raise DataError(
                f"scene {i} has {len(layout)} objects: a scene holds 1 to {MAX_OBJECTS}"
            )
        objects = []
        for j, (category, box) in enumerate(layout):
            if category not in INDEX:
                raise DataError(
                    f"scene {i}, object {j}: unknown category {category!r}; the categories are"
                    f" {', '.join(CATEGORIES)}"
                )
            x0, y0, x1, y1 = (int(v) for v in box)
            if not (0 <= x0 < x1 <= canvas and 0 <= y0 < y1 <= canvas):
                raise DataError(
                    f"scene {i}, object {j} ({category}): box {tuple(box)} is not a box inside"
                    f" the {canvas} x {canvas} canvas (x0 < x1, y0 < y1)"
                )
            objects.append((category, x0, y0, x1, y1))
        _fill(scenes, i, objects, canvas, rng)
    return scenes


def _empty(count: int, canvas: int) -> SceneSet:
    m, p = MAX_OBJECTS, len(PREDICATES)
    return SceneSet(
        np.zeros((count, 3, canvas, canvas), dtype=np.uint8),
        np.zeros((count, m, 4), dtype=np.int64),
        np.full((count, m), -1, dtype=np.int64),
        np.zeros(count, dtype=np.int64),
        np.zeros((count, p, m, m), dtype=bool),
    )


def _fill(
    scenes: SceneSet,
    row: int,
    objects: list[tuple],
    canvas: int,
    rng: np.random.Generator,
    relations: np.ndarray | None = None,
) -> None:
    """Write scene ``row`` of ``scenes``: the image of ``objects`` and their relations."""
    n = len(objects)
    cats = np.array([INDEX[o[0]] for o in objects])
    box = np.array([o[1:] for o in objects])
    if relations is None:
        relations = scene_truths(box, cats, canvas)
    scenes.images[row] = render(objects, canvas, rng)
    scenes.boxes[row, :n], scenes.categories[row, :n], scenes.counts[row] = box, cats, n
    scenes.truths[row, :, :n, :n] = relations


def generate_scenes(count: int, seed: int, canvas: int = 64, zero_shot: bool = False) -> SceneSet:
    """``count`` scenes drawn from ``seed``: ordinary ones, or (``zero_shot``) ones whose every
    composed triple has a held-out category pair (:data:`.relations.ZERO_SHOT`)."""
    if count < 1:
        raise DataError(f"a split needs at least 1 scene, got {count}")
    if canvas < 48:
        raise DataError(f"scenes are drawn on a canvas of at least 48 pixels, got {canvas}")
    rng = np.random.default_rng(seed)
    scenes = _empty(count, canvas)
    made = 0
    while made < count:
        objects = _layout(rng, canvas, zero_shot)
        if len(objects) < MIN_OBJECTS:
            continue
        cats = np.array([INDEX[o[0]] for o in objects])
        relations = scene_truths(np.array([o[1:] for o in objects]), cats, canvas)
        held, other = _zero_shot_pairs(relations, cats)
        if (held == 0 or other > 0) if zero_shot else held > 0:
            continue
        _fill(scenes, made, objects, canvas, rng, relations)
        made += 1
    return scenes


def scene_splits(
    sizes: tuple[int, int, int, int] = (600, 200, 200, 200),
    seed: int = 0,
    canvas: int = 64,
    noise: float = 0.0,
) -> dict[str, SceneSet]:
    """The four splits of :data:`SPLITS`, ``sizes`` scenes each, from ``seed`` (each split its
    own stream, so that a bigger training split leaves the test scenes as they were). With
    ``noise``, each composed triple of the training scenes is left unlabelled with that
    probability (missing annotations); the other splits keep every label."""
    if len(sizes) != len(SPLITS):
        raise DataError(f"give {len(SPLITS)} split sizes ({', '.join(SPLITS)}), got {sizes}")
    streams = np.random.SeedSequence(seed).spawn(len(SPLITS) + 1)
    splits = {
        name: generate_scenes(
            size, int(stream.generate_state(1)[0]), canvas, zero_shot=name == "zero_shot"
        )
        for name, size, stream in zip(SPLITS, sizes, streams, strict=False)
    }
    if noise > 0:
        truths = splits["train"].truths.copy()
        composed = truths[:, len(PRIMITIVES) :]
        composed &= np.random.default_rng(streams[-1]).random(composed.shape) >= noise
        splits["train"] = replace(splits["train"], truths=truths)
    return splits
