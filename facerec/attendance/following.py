"""Frames in, face tracks out, at the camera's frame rate: the work of a frame is spent where it
changes something.

- A whole detection runs every ``detect_every`` processed frames (stretched up to
  ``detect_every_max`` while whole detections find nobody new), after a shot change, and when no
  track is live. Between them, each track's face is *followed*: O-Net alone on the box the
  tracker predicts (:meth:`facerec.detection.mtcnn.detector.MTCNN.follow`, ~1 ms a face against
  ~60 ms for a whole 1080p detection). A new face is found within ``detect_every_max`` frames
  (0.4 s at 25 fps).
- A face is embedded only when it can change a decision: the first faces of a track (the
  evidence it is decided on), a face clearly better than the best the track holds, a face whose
  track is ambiguous (another track's predicted box overlaps it: a crossing), and one face every two
  seconds per track so that a track that changed people is found out.
- With liveness, the liveness networks see the same faces that are embedded.

Every source keeps its own follower (the tracker's state is its frames' history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from facerec.attendance.evidence import face_weight, snapshot_score
from facerec.attendance.shots import ShotDetector
from facerec.attendance.tracker import Detection, FaceTracker, Track, TrackerConfig, iou
from facerec.identity import quality
from facerec.recognizer import FaceRecognizer
from facerec.types import Face, Liveness


@dataclass(frozen=True)
class FollowConfig:
    detect_every: int = 5  # whole detections: every this many processed frames (1: every frame) ...
    detect_every_max: int = 10  # ... stretched up to this while whole detections find no new face
    better_by: float = 1.5  # embed a face again when its expected weight beats the track's best by this
    recheck_seconds: float = 2.0  # embed each track's face at least this often (a swap is found out)
    first_faces: int = 3  # embed every face of a new track until it holds this many
    duplicate_iou: float = 0.5  # two followed faces overlapping this much are one face


@dataclass(frozen=True)
class Sighting:
    """One face of one frame, attributed to a track; ``face.embedding``, ``crop`` (the aligned
    crop the embedding came from), ``figures`` (quality.measure's) and ``liveness`` are set when
    the face was embedded in this frame."""

    track: int
    face: Face
    crop: np.ndarray | None = field(default=None, repr=False)
    figures: dict | None = None
    liveness: Liveness | None = None

    @property
    def weight(self) -> float:
        if self.figures is None:
            return 0.0
        f = self.figures
        return face_weight(f["size"], f["sharpness"], f["yaw"], self.face.confidence)

    def enrollable(self, gate: quality.QualityGate) -> bool:
        """Embedded here, and good enough for enrolment's quality gate."""
        return self.figures is not None and not quality.problems(self.figures, gate)

    @property
    def snapshot_score(self) -> float:
        f = self.figures or {}
        return snapshot_score(f.get("size", 0.0), f.get("sharpness", 0.0), f.get("yaw", 1.0))


@dataclass(frozen=True)
class FrameTracks:
    """What one frame gave: the faces seen on tracks, the tracks that ended (gone, or a shot
    change: ``cut``), and whether a whole detection ran."""

    sightings: list[Sighting]
    ended: list[Track]
    cut: bool
    detected: bool


@dataclass
class _Held:
    best_expected: float = 0.0  # expected weight (before sharpness) of the best face embedded
    embedded_at: datetime | None = None
    faces: int = 0
    uncertain: bool = False  # its last face was unlike the track: embed the next one too


UNLIKE = 0.3  # a face this unlike its track's appearance makes the track uncertain


class FaceFollower:
    """Tracks the faces of one source's frames (see the module's docstring)."""

    def __init__(
        self,
        recognizer: FaceRecognizer,
        *,
        liveness: bool = False,
        config: FollowConfig | None = None,
        tracker: TrackerConfig | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.liveness = liveness
        self.config = config or FollowConfig()
        self.tracker = FaceTracker(tracker)
        self.shots = ShotDetector()
        self._since = 0  # frames since the last whole detection
        self._interval = self.config.detect_every
        self._held: dict[int, _Held] = {}

    def step(self, pixels: np.ndarray, moment: datetime) -> FrameTracks:
        cut = self.shots.cut(pixels)
        ended = self.tracker.cut() if cut else []
        predicted = self.tracker.predicted(moment)
        whole = cut or not predicted or self._since >= self._interval - 1 or self.config.detect_every <= 1
        self._since = 0 if whole else self._since + 1
        detector = self.recognizer.detector
        faces = detector.detect(pixels) if whole else self._followed(pixels, list(predicted.values()))
        # A face between two tracks' predictions (a crossing) is embedded before association, so
        # that appearance decides which is which; the others only once motion has had its say.
        early = [i for i, f in enumerate(faces) if _crossing(f.box, predicted)]
        embedded = self._embed(pixels, faces, early)
        detections = [Detection(f.box, f.confidence, embedded.get(i, (None,))[0]) for i, f in enumerate(faces)]

        def embed(unmatched: list[int], matched: list[tuple[int, int]]) -> dict[int, np.ndarray]:
            wanted = [i for tid, i in matched if i not in embedded and self._wants(tid, faces[i], moment)]
            more = self._embed(pixels, faces, [i for i in unmatched if i not in embedded] + wanted)
            embedded.update(more)
            # The tracker folds each returned vector into its track's appearance, once; a face
            # unlike its track stays out of it (it is still embedded: evidence may split the track).
            unlike = {i for tid, i in matched if i in more and not self._compare(tid, more[i][0])}
            return {i: value[0] for i, value in embedded.items() if i not in unlike}

        step = self.tracker.update(detections, moment, embed)
        if whole:  # a scene where nobody new arrives needs whole detections less often
            stretched = min(self._interval + 1, max(self.config.detect_every_max, self.config.detect_every))
            self._interval = self.config.detect_every if step.started else stretched
        ended += step.ended
        for track in step.ended:
            self._held.pop(track.id, None)
        sightings = []
        for tid, i in step.matches:
            held = self._held.setdefault(tid, _Held())
            if i in embedded:
                vector, crop, figures, verdict = embedded[i]
                held.faces += 1
                held.embedded_at = moment
                held.best_expected = max(held.best_expected, _expected(faces[i]))
                sightings.append(Sighting(tid, faces[i].with_embedding(vector), crop, figures, verdict))
            else:
                sightings.append(Sighting(tid, faces[i]))
        return FrameTracks(sightings, ended, cut, whole)

    def split(self, track_id: int) -> None:
        """End a track whose faces turned out to be two people: the next face there starts anew."""
        self.tracker.forget(track_id)
        self._held.pop(track_id, None)

    def finish(self) -> list[Track]:
        """The source ended: every live track ends."""
        self._held.clear()
        return self.tracker.cut()

    # --- parts -----------------------------------------------------------------------------------

    def _followed(self, pixels: np.ndarray, boxes: list) -> list[Face]:
        found = [f for f in self.recognizer.detector.follow(pixels, boxes) if f is not None]
        found.sort(key=lambda f: -f.confidence)
        kept: list[Face] = []
        for face in found:  # two predictions that converged on one face give it once
            if all(iou(face.box, k.box) < self.config.duplicate_iou for k in kept):
                kept.append(face)
        return kept

    def _compare(self, track_id: int, vector: np.ndarray) -> bool:
        """A face unlike its track (another person where it was?) makes the track uncertain: its
        next faces are embedded too, until they settle it either way (see evidence: a split). True
        when the face is like its track."""
        appearance = self.tracker.tracks[track_id].appearance
        held = self._held.setdefault(track_id, _Held())
        held.uncertain = appearance is not None and float(appearance @ vector) < UNLIKE
        return not held.uncertain

    def _wants(self, track_id: int, face: Face, moment: datetime) -> bool:
        held = self._held.get(track_id)
        if held is None or held.uncertain or held.faces < self.config.first_faces:
            return True
        if _expected(face) > self.config.better_by * held.best_expected:
            return True
        return held.embedded_at is None or (moment - held.embedded_at).total_seconds() >= self.config.recheck_seconds

    def _embed(self, pixels: np.ndarray, faces: list[Face], indexes: list[int]) -> dict[int, tuple]:
        """index -> (vector, crop, quality figures, liveness verdict or None) for these faces."""
        if not indexes:
            return {}
        chosen = [faces[i] for i in indexes]
        embedder = self.recognizer.embedder
        crops = embedder.crops(pixels, chosen)
        vectors = embedder.embed_crops(crops)
        verdicts = self.recognizer.liveness_checker.check(pixels, chosen) if self.liveness else [None] * len(chosen)
        return {
            i: (vector, crop, quality.measure(face, crop), verdict)
            for i, face, crop, vector, verdict in zip(indexes, chosen, crops, vectors, verdicts, strict=True)
        }


def _expected(face: Face) -> float:
    """A face's weight before its crop is cut (size, confidence and pose only)."""
    return face_weight(min(face.width, face.height), 40.0, quality.yaw(face), face.confidence)


def _crossing(box: tuple, predicted: dict[int, tuple]) -> bool:
    """A face that overlaps the predictions of several tracks."""
    return sum(iou(box, p) > 0.1 for p in predicted.values()) > 1
