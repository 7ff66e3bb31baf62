"""Action units as displacement fields on the canonical face (cm at intensity 1).

Every AU is a few `Movement`s: a set of canonical vertices (an `Anchor`,
derived from the landmark index sets of `tracking.canonical_face` and
`tracking.face_regions`) moving by a vector, with a Gaussian falloff by
geodesic distance over the mesh, so the skin around them follows and the
movement does not jump across the open mouth or eyes (the tessellation has
holes there). The table, `ACTION_UNITS`, lists each AU once per side where the
movement is often one-sided (AU12, AU14, AU45) and once for both sides
otherwise.

Sources: the descriptions of appearance changes are those of the FACS manual
(Ekman, Friesen & Hager 2002, *Facial Action Coding System: The Manual*),
summarised per AU. FACS scores intensity by appearance (A trace .. E maximum),
not in millimetres; the magnitudes here are estimates of a pronounced (D-E)
movement on the canonical face (MediaPipe's mean face: 15.5 cm wide, eye
openings 0.67 cm, lips 4.9 cm wide), reasoned per AU from those features'
sizes. They set what intensity 1 means, and can be tuned without changing
the directions.

Directions are written for the subject's left side: (outwards, up,
forwards), outwards being +x there; on the right side x is mirrored, so
"outwards" always points away from the midline.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reenact.errors import SettingError
from reenact.params import FaceModel
from reenact.tracking.canonical_face import N_VERTICES, canonical_face
from reenact.tracking.face_regions import SUB_REGIONS, mouth_corners, region_masks, retarget_scale


class Side(enum.Enum):
    """Which of the subject's sides an AU acts on."""

    BOTH = ""
    LEFT = "L"
    RIGHT = "R"


class Anchor(enum.Enum):
    """Vertex sets an AU moves, each resolved per side by `anchor_ids`."""

    INNER_BROW = enum.auto()
    """The medial half of the brow (brow ids nearer the midline than the brow's median)."""
    OUTER_BROW = enum.auto()
    """The lateral half of the brow."""
    GLABELLA = enum.auto()
    """Skin between the brows: above the eyes' inner corners, nearer the midline than the brows."""
    UPPER_LID = enum.auto()
    """Eyelid contour ids above the line between the eye's corners."""
    LOWER_LID = enum.auto()
    """Eyelid contour ids below it."""
    CHEEK = enum.auto()
    """The infraorbital cheek: between the eye's corners in x, from a third of the way up from the mouth
    corner to the lower lid's lowest point less a quarter of the eye-mouth distance."""
    NOSE_WING = enum.auto()
    """The nasal wing: vertices within 0.6 cm of the nose tip's height (the most forward vertex), between half
    the eye's inner corner's distance from the midline and that distance."""
    UPPER_LIP = enum.auto()
    """Lip contour ids above the mouth corners."""
    LOWER_LIP = enum.auto()
    """Lip contour ids below the mouth corners."""
    CORNER = enum.auto()
    """The mouth corner (`face_regions.mouth_corners`)."""
    CHIN = enum.auto()
    """The chin boss: vertices below the lips within the lower lip's inner third from the midline."""
    JAW = enum.auto()
    """Everything below the lowest lip point (what `face_regions` counts as jaw), lower lip included."""
    CHIN_AND_LOWER_LIP = enum.auto()
    """The front of the mandible: `CHIN` and `LOWER_LIP` together."""


@dataclass(frozen=True)
class Movement:
    """Part of an AU: an anchor's vertices moving together, and the skin around them following."""

    anchor: Anchor
    direction: tuple[float, float, float]
    """Unit-free direction (outwards, up, forwards) on the subject's left side; normalised when used."""
    cm: float
    """Displacement of the anchor's vertices at intensity 1."""
    falloff_cm: float
    """Geodesic distance over the mesh at which the movement has fallen to 1/e."""


@dataclass(frozen=True)
class ActionUnit:
    """One FACS action unit, as a displacement field on the canonical face (see `field`)."""

    number: int
    name: str
    movements: tuple[Movement, ...]
    side: Side = Side.BOTH

    @property
    def code(self) -> str:
        """Its name in tables and on the command line: "12", or "L12"/"R12" for one side."""
        return f"{self.side.value}{self.number}"

    @property
    def label(self) -> str:
        """Its name in a plot's legend or a CSV header: AU12, AU12_L."""
        return f"AU{self.number}" + (f"_{self.side.value}" if self.side is not Side.BOTH else "")

    def sided(self, side: Side) -> ActionUnit:
        return ActionUnit(self.number, self.name, self.movements, side)


UP, DOWN, OUT, IN, FORWARD, BACK = (0, 1, 0), (0, -1, 0), (1, 0, 0), (-1, 0, 0), (0, 0, 1), (0, 0, -1)

AU1 = ActionUnit(1, "inner brow raiser", (
    Movement(Anchor.INNER_BROW, UP, 0.8, 1.2),
))
"""Frontalis, pars medialis. FACS: pulls the inner portion of the brows and the forehead upwards; the brows'
inner corners rise, often slanting them obliquely, with horizontal wrinkles in the centre of the forehead.
Magnitude: the inner brow sits about 2 cm above the eye's inner corner on the mean face; a strong raise lifts
it by 0.7-1 cm (it can about double the skin fold above the lid): 0.8 cm, falling off over the forehead."""

AU2 = ActionUnit(2, "outer brow raiser", (
    Movement(Anchor.OUTER_BROW, UP, 0.8, 1.2),
))
"""Frontalis, pars lateralis. FACS: pulls the lateral portion of the brows upwards, arching them, and
stretches the lateral upper-lid cover fold upwards. Magnitude: as AU1, for the lateral half: 0.8 cm."""

AU4 = ActionUnit(4, "brow lowerer", (
    Movement(Anchor.INNER_BROW, (-0.6, -0.8, 0.0), 0.6, 1.0),
    Movement(Anchor.OUTER_BROW, DOWN, 0.3, 1.0),
    Movement(Anchor.GLABELLA, (-1.0, -0.3, 0.0), 0.3, 0.6),
))
"""Corrugator supercilii, depressor supercilii, procerus. FACS: lowers the brows, the inner parts most, and
pulls them together, with vertical wrinkles between them and a bulge above the inner corners. Magnitude: the
brows travel down and in by about a third of their 2 cm height over the eye's corners at the inner end
(0.6 cm), less laterally (0.3 cm); the skin between them gathers by 0.3 cm."""

AU5 = ActionUnit(5, "upper lid raiser", (
    Movement(Anchor.UPPER_LID, UP, 0.2, 0.4),
))
"""Levator palpebrae superioris. FACS: raises the upper lid, widening the eye opening and exposing the sclera
above the iris; the upper-lid fold narrows. Magnitude: the mean face's lid gap is 0.67 cm; a wide-eyed stare
raises the lid by about a third of it, 0.2 cm, confined to the lid (the brows do not move)."""

AU6 = ActionUnit(6, "cheek raiser", (
    Movement(Anchor.CHEEK, UP, 0.4, 1.0),
    Movement(Anchor.LOWER_LID, UP, 0.1, 0.3),
))
"""Orbicularis oculi, pars orbitalis. FACS: lifts the cheeks and the skin around the eye socket towards the
eye, narrows the eye opening from below, bags the skin below the lower lid and makes crow's-feet. Magnitude:
the infraorbital cheek rises by about 0.4 cm in a Duchenne smile (a tenth of the eye-to-mouth-corner
distance); the lower lid rides up by 0.1 cm with it."""

AU7 = ActionUnit(7, "lid tightener", (
    Movement(Anchor.LOWER_LID, UP, 0.2, 0.4),
    Movement(Anchor.UPPER_LID, DOWN, 0.08, 0.3),
))
"""Orbicularis oculi, pars palpebralis. FACS: tightens the lids, narrowing the eye opening; the lower lid
straightens and rises, more than the upper lid lowers, and the skin below it does not bag (unlike AU6).
Magnitude: the lower lid rises by 0.2 cm (about a third of the 0.67 cm lid gap), the upper lid lowers by less
than half of that."""

AU9 = ActionUnit(9, "nose wrinkler", (
    Movement(Anchor.NOSE_WING, (0.2, 1.0, 0.0), 0.3, 0.6),
    Movement(Anchor.GLABELLA, DOWN, 0.3, 0.6),
    Movement(Anchor.UPPER_LIP, UP, 0.1, 0.4),
    Movement(Anchor.INNER_BROW, DOWN, 0.2, 0.8),
))
"""Levator labii superioris alaeque nasi. FACS: wrinkles the skin along the sides and root of the nose,
pulls the nasal wings up, lowers the inner brows and draws the infraorbital triangle and the centre of the
upper lip up. Magnitude: the nasal wings rise 0.3 cm (a fifth of the nose-tip-to-upper-lip height), the skin
at the nose root is pulled down 0.3 cm, the inner brows 0.2 cm and the upper lip 0.1 cm (less than AU10)."""

AU10 = ActionUnit(10, "upper lip raiser", (
    Movement(Anchor.UPPER_LIP, UP, 0.35, 0.6),
    Movement(Anchor.NOSE_WING, UP, 0.1, 0.5),
))
"""Levator labii superioris. FACS: raises the upper lip, its centre most, so it takes an angular bend;
deepens the nasolabial furrow and widens the nostril wings, without wrinkling the nose root (unlike AU9).
Magnitude: a strong raise shows the upper teeth: about 0.35 cm, two thirds of the upper lip's height."""

AU12 = ActionUnit(12, "lip corner puller", (
    Movement(Anchor.CORNER, (0.7, 0.6, -0.4), 1.0, 1.2),
))
"""Zygomaticus major. FACS: pulls the lip corner back and up along the line of the cheekbone; the
nasolabial furrow deepens and the infraorbital skin is pushed up. Magnitude: in a broad smile each corner
moves about 1 cm (the mouth widens by 1.4 cm, over a quarter of its 4.9 cm), out, up and back over the
curved teeth; the big smile of drive_d0 moves its left corner by (1.0, 0.8, -0.65) cm. The cheek and the lips
near the corner follow."""

AU14 = ActionUnit(14, "dimpler", (
    Movement(Anchor.CORNER, (0.1, 0.0, -1.0), 0.35, 0.7),
))
"""Buccinator. FACS: tightens the lip corner and pulls it inwards (into the cheek, towards the teeth), with a
dimple beyond it; the corner barely rises or widens. Magnitude: the corner sinks back by about 0.35 cm, half
an AU12 and mostly in depth."""

AU15 = ActionUnit(15, "lip corner depressor", (
    Movement(Anchor.CORNER, (0.15, -1.0, 0.0), 0.4, 1.0),
))
"""Depressor anguli oris (triangularis). FACS: pulls the lip corners down, the lips angle downwards at the
corners and the skin below them bags or wrinkles. Magnitude: 0.4 cm down, a little out: the corner drops below
the lower lip's line by about the lower lip's height."""

AU16 = ActionUnit(16, "lower lip depressor", (
    Movement(Anchor.LOWER_LIP, (0.2, -1.0, 0.3), 0.3, 0.5),
))
"""Depressor labii inferioris. FACS: pulls the lower lip down and slightly laterally, stretching it and
showing the lower teeth; the lower lip may protrude. Magnitude: 0.3 cm down, about the lower lip's height,
confined to the lip and the skin just below it (the jaw stays, unlike AU26). Needed by the disgust preset."""

AU17 = ActionUnit(17, "chin raiser", (
    Movement(Anchor.CHIN, (0.0, 1.0, 0.5), 0.4, 0.8),
    Movement(Anchor.LOWER_LIP, (0.0, 1.0, 0.6), 0.2, 0.4),
))
"""Mentalis. FACS: pushes the chin boss and the lower lip upwards; the chin wrinkles and the lower lip
protrudes, the mouth's line curving down. Magnitude: the chin skin rises 0.4 cm and forwards, the lower lip
0.2 cm up and out."""

AU20 = ActionUnit(20, "lip stretcher", (
    Movement(Anchor.CORNER, (1.0, -0.15, -0.1), 0.5, 1.0),
))
"""Risorius with platysma. FACS: pulls the lip corners laterally, elongating the mouth and flattening the
lips; the skin beyond the corners is pulled too. Magnitude: each corner moves out about 0.5 cm (the mouth
lengthens by a fifth), a little down, unlike AU12's upward pull."""

AU23 = ActionUnit(23, "lip tightener", (
    Movement(Anchor.UPPER_LIP, (0.0, -0.5, -1.0), 0.12, 0.3),
    Movement(Anchor.LOWER_LIP, (0.0, 0.5, -1.0), 0.12, 0.3),
    Movement(Anchor.CORNER, IN, 0.15, 0.5),
))
"""Orbicularis oris. FACS: tightens the lips, narrowing the red parts (they roll in) and making the lips
appear thinner; the mouth may narrow slightly, the corners do not move up or down. Magnitude: the vermilion
narrows by about a fifth of its 0.5 cm height: the lips' contours move 0.12 cm inwards (back and towards the
lip line), the corners 0.15 cm towards the midline."""

AU24 = ActionUnit(24, "lip pressor", (
    Movement(Anchor.UPPER_LIP, DOWN, 0.2, 0.4),
    Movement(Anchor.LOWER_LIP, UP, 0.2, 0.4),
))
"""Orbicularis oris. FACS: presses the lips together, the red parts bulge and narrow; no protrusion, the
corners unmoved. Magnitude: the lips close onto each other by 0.2 cm each (the mean face's mouth is 0.58 cm
open between the inner lips)."""

AU25 = ActionUnit(25, "lips part", (
    Movement(Anchor.LOWER_LIP, DOWN, 0.25, 0.3),
    Movement(Anchor.UPPER_LIP, UP, 0.1, 0.3),
))
"""Depressor labii / relaxed mentalis or orbicularis oris. FACS: the lips part, exposing the teeth or the
inside of the mouth, without the jaw dropping visibly. Magnitude: a 0.35 cm gap, most of it by the lower lip,
confined to the lips (falloff 0.3 cm, so the chin does not follow)."""

AU26 = ActionUnit(26, "jaw drop", (
    Movement(Anchor.CHIN_AND_LOWER_LIP, (0.0, -1.0, -0.15), 1.0, 1.2),
    Movement(Anchor.CORNER, UP, 0.8, 0.4),
))
"""Masseter, temporalis and internal pterygoid relaxed. FACS: the jaw drops by relaxing, the mouth opens to a
gap where the teeth separate, without the mouth stretching. Magnitude: the chin and the lower lip move 1.0 cm
down and slightly back; the jaw rotates about its hinges below the ears, so the movement falls off towards
the jaw's sides (over 1.2 cm), and the lip corners, near the hinge of the lips, stay nearly in place (a
counter-movement of 0.8 cm, falling off over 0.4 cm, cancels most of their pull). On the edtalk target's 20
widest openings the lower lip moved 1.0-1.25 cm, the chin 0.7 cm, the corners 0.13 cm up and the jaw's sides
under 0.15 cm."""

AU27 = ActionUnit(27, "mouth stretch", (
    Movement(Anchor.JAW, (0.0, -1.0, -0.25), 1.8, 1.0),
    Movement(Anchor.CORNER, (-1.0, -0.3, 0.0), 0.35, 0.8),
))
"""Pterygoids, digastric. FACS: the jaw is pulled down far, stretching the mouth open into an oval, the lip
corners drawn in, the cheeks flattened. Magnitude: about twice AU26's opening (1.8 cm), the corners moving
0.35 cm towards the midline."""

AU45 = ActionUnit(45, "eye closure (blink)", (
    Movement(Anchor.UPPER_LID, DOWN, 0.6, 0.4),
    Movement(Anchor.LOWER_LID, UP, 0.07, 0.3),
))
"""Relaxation of levator palpebrae superioris, orbicularis oculi pars palpebralis. FACS: the upper lid drops
and the eye closes; AU45 is a blink (closing and reopening, quickly), AU43 the same closure held. The
geometry is one: on the command line 43 names this unit too. Magnitude: the lids meet: the upper lid travels
0.6 cm and the lower lid 0.07 cm, the mean face's 0.67 cm lid gap, with a tight falloff so the brow stays."""

SYMMETRIC = (AU1, AU2, AU4, AU5, AU6, AU7, AU9, AU10, AU15, AU16, AU17, AU20, AU23, AU24, AU25, AU26, AU27)
"""AUs read and edited as one movement of both sides."""
ONE_SIDED = (AU12, AU14, AU45)
"""AUs read and edited per side (smirks, contempt, winks)."""
ACTION_UNITS: tuple[ActionUnit, ...] = tuple(
    sorted(SYMMETRIC + tuple(au.sided(side) for au in ONE_SIDED for side in (Side.RIGHT, Side.LEFT)),
           key=lambda au: (au.number, au.side.value))
)
"""Every AU the package reads and edits, by number (one-sided units right then left)."""
CODES: tuple[str, ...] = tuple(au.code for au in ACTION_UNITS)
"""`ACTION_UNITS`' codes, the columns of a reading."""
LABELS: tuple[str, ...] = tuple(au.label for au in ACTION_UNITS)
"""`ACTION_UNITS`' labels, for headers and legends."""
REGION_SHARE = 0.1
"""Share of an AU's movement a face region must hold to count as moved by it (`regions_moved`)."""
ALIASES = {43: 45}
"""AU numbers that name the same movement as another (AU43 eyes closed is AU45 held)."""

EMOTIONS: dict[str, tuple[str, ...]] = {
    "happy": ("6", "12"),
    "sad": ("1", "4", "15"),
    "surprised": ("1", "2", "5", "26"),
    "afraid": ("1", "2", "4", "5", "7", "20", "26"),
    "angry": ("4", "5", "7", "23"),
    "disgusted": ("9", "15", "16"),
    "contempt": ("L12", "L14"),
}
"""EMFACS prototypes (Friesen & Ekman 1983, as summarised by Matsumoto & Ekman): happiness 6+12, sadness
1+4+15, surprise 1+2+5B+26, fear 1+2+4+5+7+20+26, anger 4+5+7+23, disgust 9+15+16, contempt unilateral
12+14 (here the subject's left side)."""


def resolve(code: str) -> tuple[int, ...]:
    """Indices in `ACTION_UNITS` of an AU code: "12" (both sides of a one-sided unit), "L12", "R45", "43"."""
    text = code.strip().upper()
    side = Side(text[0]) if text[:1] in ("L", "R") else Side.BOTH
    number_text = text[1:] if side is not Side.BOTH else text
    if not number_text.isdigit():
        raise SettingError(f"unknown action unit {code!r}; expected a number such as 12, or L12/R12 for one side")
    number = ALIASES.get(int(number_text), int(number_text))
    found = tuple(i for i, au in enumerate(ACTION_UNITS)
                  if au.number == number and (side is Side.BOTH or au.side is side))
    if not found:
        known = sorted({au.number for au in ACTION_UNITS} | set(ALIASES))
        sided = ", ".join(str(au.number) for au in ONE_SIDED)
        raise SettingError(f"unknown action unit {code!r}; known: {', '.join(map(str, known))} "
                           f"(L/R prefix only for {sided})")
    return found


@lru_cache(maxsize=1)
def geodesic_distances() -> np.ndarray:
    """float64 468x468 shortest path lengths (cm) along the canonical mesh's edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    face = canonical_face()
    edges = face.tessellation_edges
    lengths = np.linalg.norm(face.vertices[edges[:, 0]] - face.vertices[edges[:, 1]], axis=1)
    graph = coo_matrix((lengths, (edges[:, 0], edges[:, 1])), shape=(N_VERTICES, N_VERTICES)).tocsr()
    return dijkstra(graph, directed=False)


def anchor_ids(anchor: Anchor, side: Side) -> np.ndarray:
    """int vertex ids of an anchor on one side of the face (BOTH: either side)."""
    if side is Side.BOTH:
        return np.union1d(anchor_ids(anchor, Side.RIGHT), anchor_ids(anchor, Side.LEFT))
    face = canonical_face()
    v = face.vertices
    e = 0 if side is Side.RIGHT else 1  # eyes and brows are indexed (right, left)
    on_side = np.flatnonzero(v[:, 0] * (-1 if e == 0 else 1) > 0)
    x, y = np.abs(v[:, 0]), v[:, 1]
    corner = mouth_corners()[e]
    inner_corner, outer_corner = face.eye_points[e, [0, 1] if e == 1 else [1, 0]]
    brow = face.brows[e]
    lips = face.lips[np.isin(face.lips, on_side) | (v[face.lips, 0] == 0)]
    eye = face.eyes[e]
    lid_line = (y[inner_corner] + y[outer_corner]) / 2
    if anchor is Anchor.INNER_BROW:
        return brow[x[brow] <= np.median(x[brow])]
    if anchor is Anchor.OUTER_BROW:
        return brow[x[brow] > np.median(x[brow])]
    if anchor is Anchor.GLABELLA:
        box = (x < x[brow].min()) & (y > y[inner_corner]) & (y < y[brow].max())
        return np.intersect1d(np.flatnonzero(box), np.union1d(on_side, np.flatnonzero(v[:, 0] == 0)))
    if anchor is Anchor.UPPER_LID:
        return eye[y[eye] > lid_line + 0.05]
    if anchor is Anchor.LOWER_LID:
        return eye[y[eye] < lid_line - 0.05]
    if anchor is Anchor.CHEEK:
        low, high = y[corner], y[eye].min()
        box = (x > x[inner_corner]) & (x < x[outer_corner]) & (y > low + (high - low) / 3) & (y < high - (high - low) / 4)
        return np.intersect1d(np.flatnonzero(box), on_side)
    if anchor is Anchor.NOSE_WING:
        tip = int(np.argmax(v[:, 2]))
        box = (np.abs(y - y[tip]) < 0.6) & (x > x[inner_corner] / 2) & (x < x[inner_corner])
        return np.intersect1d(np.flatnonzero(box), on_side)
    if anchor is Anchor.UPPER_LIP:
        return lips[y[lips] > y[corner] + 1e-3]
    if anchor is Anchor.LOWER_LIP:
        return lips[y[lips] < y[corner] - 1e-3]
    if anchor is Anchor.CORNER:
        return np.array([corner])
    jaw = np.flatnonzero(y < y[face.lips].min())
    jaw = np.intersect1d(jaw, np.union1d(on_side, np.flatnonzero(v[:, 0] == 0)))
    chin = jaw[x[jaw] < x[corner] / 3]
    if anchor is Anchor.CHIN:
        return chin
    if anchor is Anchor.CHIN_AND_LOWER_LIP:
        return np.union1d(chin, lips[y[lips] < y[corner] - 1e-3])
    return np.union1d(jaw, lips[y[lips] < y[corner] - 1e-3])  # Anchor.JAW


def field(unit: ActionUnit) -> np.ndarray:
    """float32 468x3 displacement (cm) of the canonical vertices at intensity 1.

    Each movement moves its anchor's vertices fully and every other vertex by
    exp(-(d / falloff)^2), d its geodesic distance to the nearest anchor vertex;
    the x direction points away from the midline on either side of it.
    """
    v = canonical_face().vertices
    outwards = np.sign(v[:, 0])
    sides = (Side.RIGHT, Side.LEFT) if unit.side is Side.BOTH else (unit.side,)
    total = np.zeros((N_VERTICES, 3))
    for movement in unit.movements:
        direction = np.asarray(movement.direction, dtype=np.float64)
        direction = direction / np.linalg.norm(direction)
        for side in sides:
            ids = anchor_ids(movement.anchor, side)
            if len(ids) == 0:
                raise RuntimeError(f"AU{unit.code}: anchor {movement.anchor.name} has no vertices on the {side.name} side")
            distance = geodesic_distances()[ids].min(0)
            weight = np.exp(-((distance / movement.falloff_cm) ** 2))
            if unit.side is Side.BOTH:  # each side's half, so a midline anchor is not moved twice
                weight = weight * ((v[:, 0] * (1 if side is Side.LEFT else -1) > 0) + 0.5 * (v[:, 0] == 0))
            step = np.outer(weight * movement.cm, direction)
            step[:, 0] *= np.where(outwards == 0, 0.0, outwards)
            total += step
    return total.astype(np.float32)


@lru_cache(maxsize=1)
def fields() -> np.ndarray:
    """float32 Nx468x3 `field` of every AU in `ACTION_UNITS`."""
    return np.stack([field(unit) for unit in ACTION_UNITS])


def regions_moved(index: int) -> frozenset[str]:
    """The `SUB_REGIONS` an AU (by index in `ACTION_UNITS`) moves: those holding at least REGION_SHARE of the
    summed movement of its vertices, weighted by `region_masks` (what an edit mask must cover)."""
    size = np.linalg.norm(fields()[index], axis=1)
    share = region_masks() @ size / size.sum()
    return frozenset(name for name, part in zip(SUB_REGIONS, share) if part >= REGION_SHARE)


def subject_fields(model: FaceModel) -> np.ndarray:
    """float32 Nx468x3 `fields` carried onto a subject's face: each region's movement scaled by the ratio of
    its feature sizes to the canonical face's (`face_regions.retarget_scale`), so intensity 1 is the same
    movement relative to a wide mouth or a narrow eye."""
    face = canonical_face()
    canonical = FaceModel(face.vertices, np.zeros((0, N_VERTICES, 3), np.float32), np.zeros((0, 2), np.float32))
    return (fields() * retarget_scale(canonical, model)).astype(np.float32)


def openness_effects(displacements: np.ndarray, identity: np.ndarray | None = None) -> np.ndarray:
    """float32 Nx2 change of each eye's openness (lid gap over eye width, as `FaceParams.openness`) that
    displacements Nx468x3 cause on a neutral shape 468x3 (default: the canonical face), right eye first."""
    face = canonical_face()
    identity = face.vertices if identity is None else identity
    points = face.eye_points
    width = np.linalg.norm(identity[points[:, 1], :2] - identity[points[:, 0], :2], axis=1)
    gap = displacements[:, points[:, 2], 1] - displacements[:, points[:, 3], 1]
    return (gap / width).astype(np.float32)
