"""The fine-tuning loop: P x K batches, online triplet mining, validation by person, best checkpoint.

- ``head``: the backbone is frozen, so its 512-d outputs are computed once (and cached on disk)
  and only the projection head trains: seconds per epoch on a CPU.
- ``last-blocks`` (the last Inception-ResNet-C blocks and the embedding layer) and ``all``: the
  backbone trains too, at a smaller learning rate, on lightly augmented crops (mirror, small
  brightness, contrast and colour jitter). Batch-norm statistics stay frozen: P x K batches are
  too small and too skewed to re-estimate them.

The head reads the base model's vectors as the model is used, centred on its centre, and starts
where the base model is: the identity for 512-d, the principal directions of the training faces'
centred vectors for fewer dimensions, so epoch 0 is already a sensible model and training only
has to improve on it. Every epoch is validated on people never trained on; the
model file always holds the best epoch so far, and a resume file holds everything needed to go
on (``--resume``), random generator states included, so a fixed seed gives the same run.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch

from facerec.embedding import evaluate, finetuned, space
from facerec.embedding.embedder import Embedder, standardise
from facerec.errors import FacerecError
from facerec.files import write_atomically
from facerec.training import sampling, triplets
from facerec.training.crops import CropSet

TRAINABLE = {
    "head": (),
    "last-blocks": ("repeat_3", "block8", "last_linear", "last_bn"),
    "all": ("",),
}
VALIDATION_PAIRS = 3000  # of each kind, at most
CENTRE_PHOTOS = 512  # training photos whose mean vector is a fine-tuned model's centre


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    dimension: int = 512
    train: str = "head"
    mining: str = "semi-hard"
    margin: float = 0.2
    epochs: int = 30
    steps: int | None = None  # per epoch; default: about one pass over the training photos
    people_per_batch: int = 32
    images_per_person: int = 4
    learning_rate: float = 1e-3  # head
    backbone_learning_rate: float = 1e-5
    validation: float = 0.15
    seed: int = 0
    far: float = 1e-3

    def to_dict(self) -> dict:
        """Plain data (the output path as text), as the model and resume files record it."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    def check(self) -> None:
        if self.train not in TRAINABLE:
            raise FacerecError(f"--train must be one of {', '.join(TRAINABLE)}, not {self.train!r}")
        if self.mining not in triplets.MINING:
            raise FacerecError(f"--mining must be one of {', '.join(triplets.MINING)}, not {self.mining!r}")
        if not 1 <= self.dimension <= finetuned.BACKBONE_SIZE:
            raise FacerecError(f"--dim must be between 1 and {finetuned.BACKBONE_SIZE}, got {self.dimension}")
        if self.people_per_batch < 2 or self.images_per_person < 2:
            raise FacerecError("a batch needs at least 2 people with at least 2 photos each")
        if self.epochs < 1 or self.margin < 0:
            raise FacerecError("--epochs must be at least 1 and --margin not negative")


@dataclass
class Epoch:
    epoch: int
    step: int
    loss: float
    active: float  # fraction of triplets with a non-zero loss
    accuracy: float  # validation pairs
    tar: float  # validation TAR at the configured FAR
    threshold: float
    seconds: float
    centred: bool = False  # the validation figures are of centred vectors (the model keeps its centre)


@dataclass
class Outcome:
    history: list[Epoch] = field(default_factory=list)
    best: Epoch | None = None


def resume_path(out: Path) -> Path:
    return Path(out).with_name(Path(out).name + ".resume")


class Trainer:
    def __init__(self, crops: CropSet, base: Embedder, config: TrainConfig, cache: Path | None = None) -> None:
        config.check()
        network = getattr(base.network, "module", None)  # a TorchNetwork's module
        if not isinstance(network, torch.nn.Module):
            raise FacerecError("training starts from the eager torch network: pass Embedder(model, eager=True)")
        self.crops, self.base, self.config, self.cache = crops, base, config, cache
        self.train_people, self.val_people = sampling.split_people(crops.people, config.validation, config.seed)
        if len(self.train_people) < 2:
            raise FacerecError("training needs at least 2 people with 2 or more photos")
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.backbone = copy.deepcopy(network).eval()  # eager (torch), its own copy: it may train
        self.trained_parts = self._unfreeze()
        self.features = self._features() if config.train == "head" else None
        self.head = self._initial_head()
        params = [{"params": self.head.parameters(), "lr": config.learning_rate}]
        backbone_params = [p for p in self.backbone.parameters() if p.requires_grad]
        if backbone_params:
            params.append({"params": backbone_params, "lr": config.backbone_learning_rate})
        self.optimizer = torch.optim.Adam(params)
        self.pairs = self._validation_pairs()
        # The training people's photos a centre is measured on (a mean: a sample of them is enough).
        training_rows = np.flatnonzero(np.isin(crops.people, self.train_people))
        chooser = np.random.default_rng(self.config.seed + 2)  # not the batches' generator: runs repeat as before
        self._centre_rows = np.sort(chooser.permutation(training_rows)[:CENTRE_PHOTOS])
        self.step = 0
        self.outcome = Outcome()

    # --- set-up ---------------------------------------------------------------------------------

    def _unfreeze(self) -> list[str]:
        self.backbone.requires_grad_(False)
        prefixes = TRAINABLE[self.config.train]
        names = []
        for name, parameter in self.backbone.named_parameters():
            if any(name == p or name.startswith(f"{p}.") or p == "" for p in prefixes):
                parameter.requires_grad_(True)
                names.append(name)
        return names

    def _embed_backbone(self, rows: np.ndarray, augment: bool = False) -> torch.Tensor:
        out = []
        for start in range(0, len(rows), 64):
            batch = torch.from_numpy(standardise(self.crops.crops[rows[start : start + 64]]))
            if augment:
                batch = self._augment(batch)
            out.append(self.backbone(batch))
        return torch.cat(out) if out else torch.zeros((0, finetuned.BACKBONE_SIZE))

    def _features(self) -> torch.Tensor:
        """The frozen backbone's vectors of every crop, computed once (and kept on disk)."""
        digest = hashlib.sha256(self.crops.crops.tobytes())
        digest.update(self.base.spec.files["weights"].sha256.encode())
        target = self.cache / f"features-{digest.hexdigest()[:20]}.npy" if self.cache else None
        if target is not None and target.is_file():
            try:
                return torch.from_numpy(np.load(target))
            except (OSError, ValueError):
                pass
        with torch.inference_mode():
            vectors = self._embed_backbone(np.arange(len(self.crops.crops))).numpy()
        if target is not None:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                np.save(target, vectors)
            except OSError:
                pass
        return torch.from_numpy(vectors)

    def _initial_head(self) -> finetuned.EmbeddingHead:
        """The head that gives the base model as it is used: its centred vectors for 512-d (the
        identity on them), their principal directions for fewer dimensions. It reads the vectors
        centred on the base model's centre, so it learns in the space the model is used in."""
        centre = None if self.base.centre is None else torch.from_numpy(np.asarray(self.base.centre, np.float32))
        head = finetuned.EmbeddingHead(self.config.dimension, input_centre=centre)
        with torch.no_grad():
            if self.config.dimension == finetuned.BACKBONE_SIZE:
                head.linear.weight.copy_(torch.eye(finetuned.BACKBONE_SIZE))
                head.linear.bias.zero_()
            else:
                rows = np.flatnonzero(np.isin(self.crops.people, self.train_people))
                vectors = head.inputs(self.features[rows] if self.features is not None else self._frozen(rows))
                mean = vectors.mean(dim=0)
                # full_matrices: with fewer faces than dimensions, the rest is an orthonormal completion
                _, _, directions = torch.linalg.svd(vectors - mean, full_matrices=True)
                weight = directions[: self.config.dimension]
                head.linear.weight.copy_(weight)
                head.linear.bias.copy_(-(weight @ mean))
        return head

    def _frozen(self, rows: np.ndarray) -> torch.Tensor:
        with torch.inference_mode():
            return self._embed_backbone(rows).clone()

    def _validation_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first rows, second rows, same) among validation people, fixed for the whole run."""
        rows = np.flatnonzero(np.isin(self.crops.people, self.val_people))
        people = self.crops.people[rows]
        rng = np.random.default_rng(self.config.seed + 1)
        first, second = np.triu_indices(len(rows), k=1)
        same = people[first] == people[second]
        positives = np.flatnonzero(same)
        negatives = np.flatnonzero(~same)
        positives = rng.permutation(positives)[:VALIDATION_PAIRS]
        negatives = rng.permutation(negatives)[: max(len(positives), min(len(negatives), VALIDATION_PAIRS))]
        chosen = np.concatenate([positives, negatives])
        return rows[first[chosen]], rows[second[chosen]], same[chosen]

    # --- training -------------------------------------------------------------------------------

    def _augment(self, batch: torch.Tensor) -> torch.Tensor:
        flip = torch.rand(len(batch)) < 0.5
        batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
        contrast = 1 + 0.1 * (2 * torch.rand(len(batch), 1, 1, 1) - 1)
        colour = 0.05 * (2 * torch.rand(len(batch), 3, 1, 1) - 1)  # per channel: a small colour cast
        brightness = 0.1 * (2 * torch.rand(len(batch), 1, 1, 1) - 1)
        return batch * contrast + brightness + colour

    def _forward(self, rows: np.ndarray, train: bool) -> torch.Tensor:
        if self.features is not None:
            return self.head(self.features[rows])
        return self.head(self._embed_backbone(rows, augment=train))

    def steps_per_epoch(self) -> int:
        if self.config.steps:
            return self.config.steps
        photos = int(np.isin(self.crops.people, self.train_people).sum())
        return max(1, math.ceil(photos / (self.config.people_per_batch * self.config.images_per_person)))

    def validate(self) -> tuple[evaluate.Result, np.ndarray | None]:
        """Validation pairs of held-out people, with the vectors as the head gives them and centred
        on the training people's mean (as the base model's are on its population): the better of
        the two, and the centre if centring is what scored better (the model then keeps it)."""
        first, second, same = self.pairs
        rows = np.unique(np.concatenate([first, second]))
        with torch.inference_mode():
            self.head.eval()
            vectors = self._forward(rows, train=False).numpy()
            centre = self._forward(self._centre_rows, train=False).numpy().mean(axis=0)
        where = {row: i for i, row in enumerate(rows)}
        folds = np.arange(len(same)) % 10
        results = []
        for candidate in (None, centre):
            seen = space.centred(vectors, candidate)
            similarities = np.einsum("ij,ij->i", seen[[where[r] for r in first]], seen[[where[r] for r in second]])
            results.append(evaluate.evaluate(similarities, same, folds, self.config.far))
        plain, centred = results
        if (centred.accuracy, centred.tar_at_far) > (plain.accuracy, plain.tar_at_far):
            return centred, centre.astype(np.float32)
        return plain, None

    def run(self, on_step: Callable[[int, int], None] | None = None, on_epoch: Callable[[Epoch], None] | None = None):
        loss_of = triplets.MINING[self.config.mining]
        start_epoch = len(self.outcome.history) + 1
        if start_epoch == 1 and not self.outcome.history:
            baseline, centre = self.validate()  # epoch 0: the untrained head, the bar to beat
            self.outcome.best = Epoch(0, 0, float("nan"), float("nan"), baseline.accuracy, baseline.tar_at_far,
                                      baseline.threshold, 0.0, centre is not None)  # fmt: skip
            self._save_model(self.outcome.best, centre)
        for epoch in range(start_epoch, self.config.epochs + 1):
            began = time.perf_counter()
            losses, actives = [], []
            self.head.train()
            total = self.steps_per_epoch()
            for done in range(1, total + 1):
                rows = sampling.batches(
                    self.crops.people,
                    self.train_people,
                    self.config.people_per_batch,
                    self.config.images_per_person,
                    self.rng,
                )
                embeddings = self._forward(rows, train=True)
                labels = torch.from_numpy(self.crops.people[rows])
                loss, active = loss_of(embeddings, labels, self.config.margin)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                self.step += 1
                losses.append(float(loss.detach()))
                actives.append(active)
                if on_step:
                    on_step(done, total)
            result, centre = self.validate()
            record = Epoch(
                epoch,
                self.step,
                float(np.mean(losses)),
                float(np.mean(actives)),
                result.accuracy,
                result.tar_at_far,
                result.threshold,
                time.perf_counter() - began,
                centre is not None,
            )
            self.outcome.history.append(record)
            best = self.outcome.best
            if best is None or (record.accuracy, record.tar) > (best.accuracy, best.tar):
                self.outcome.best = record
                self._save_model(record, centre)
            self._save_resume()
            if on_epoch:
                on_epoch(record)
        return self.outcome

    # --- files ----------------------------------------------------------------------------------

    def _backbone_changes(self) -> dict[str, torch.Tensor]:
        state = self.backbone.state_dict()
        return {name: state[name] for name in self.trained_parts}

    def _save_model(self, record: Epoch, centre: np.ndarray | None) -> None:
        config = self.config
        summary = self.crops.summary() | {
            "train_people": len(self.train_people),
            "validation_people": len(self.val_people),
            "validation_pairs": int(len(self.pairs[2])),
            "best_epoch": record.epoch,
            "validation_accuracy": record.accuracy,
            "validation_tar_at_far": record.tar,
            "far": config.far,
            "config": config.to_dict(),
        }
        finetuned.save(
            config.out,
            head=self.head,
            backbone=self._backbone_changes(),
            meta={
                "base_model": self.base.model,
                "base_sha256": self.base.spec.files["weights"].sha256,
                "train": config.train,
                "preprocessing": dict(self.base.preprocessing.__dict__),
                "threshold": float(record.threshold),
                "training": summary,
                # Whether the model wants its vectors centred, and on what: kept only when centring
                # scored better on the validation people (Trainer.validate).
                "centre": torch.from_numpy(centre) if centre is not None else None,
                "centre_info": {
                    "data": "the training people of this run (never the validation people)",
                    "photos": int(len(self._centre_rows)),
                    "people": len(self.train_people),
                    "date": date.today().isoformat(),
                    "made_by": "facerec train",
                }
                if centre is not None
                else {},
            },
        )

    def _save_resume(self) -> None:
        state = {
            "config": self.config.to_dict(),
            "step": self.step,
            "head": self.head.state_dict(),
            "backbone": self._backbone_changes(),
            "optimizer": self.optimizer.state_dict(),
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": [asdict(e) for e in self.outcome.history],
            "best": asdict(self.outcome.best) if self.outcome.best else None,
        }
        write_atomically(resume_path(self.config.out), lambda temporary: torch.save(state, temporary))

    def resume(self) -> None:
        """Go on from the resume file next to the output: same split, step, weights and generators."""
        target = resume_path(self.config.out)
        if not target.is_file():
            raise FacerecError(f"nothing to resume: {target} does not exist")
        state = torch.load(target, map_location="cpu", weights_only=True)
        saved = {k: v for k, v in state["config"].items() if k not in ("epochs", "out")}
        current = self.config.to_dict()
        changed = [k for k, v in saved.items() if current.get(k) != v]
        if changed:
            raise FacerecError(f"--resume with other settings than the saved run: {', '.join(sorted(changed))}")
        self.head.load_state_dict(state["head"])
        if state["backbone"]:
            self.backbone.load_state_dict(state["backbone"], strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        self.step = state["step"]
        self.outcome = Outcome(
            [Epoch(**e) for e in state["history"]], Epoch(**state["best"]) if state["best"] else None
        )
