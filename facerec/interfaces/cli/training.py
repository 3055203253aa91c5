"""``facerec train``: triplet-loss fine-tuning from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from facerec.interfaces.cli.console import progress_bar, stderr
from facerec.interfaces.cli.errors import reported
from facerec.interfaces.cli.main import app
from facerec.interfaces.cli.options import JsonOption, LargestOption, ModelOption, ThreadsOption
from facerec.interfaces.cli.settings import recognizer_for, settings_for


@app.command()
def train(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="DATA/<person>/<photos>, or an archive from facerec export.")],
    out: Annotated[Path, typer.Option("--out", help="Model file to write (the best epoch's).")],
    train_part: Annotated[str, typer.Option("--train", help="What trains: head, last-blocks or all.")] = "head",
    dim: Annotated[int, typer.Option("--dim", help="Embedding size: 512, or e.g. 128 (a projection).")] = 512,
    mining: Annotated[str, typer.Option("--mining", help="Triplet mining: semi-hard or batch-hard.")] = "semi-hard",
    margin: Annotated[float, typer.Option("--margin", help="Triplet loss margin (squared L2).")] = 0.2,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the training people.")] = 30,
    steps: Annotated[int | None, typer.Option("--steps", help="Batches per epoch (default: one pass).")] = None,
    people: Annotated[int, typer.Option("--people-per-batch", help="P: people per batch.")] = 32,
    images: Annotated[int, typer.Option("--images-per-person", help="K: photos per person per batch.")] = 4,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of the head.")] = 1e-3,
    backbone_lr: Annotated[float, typer.Option("--backbone-lr", help="Learning rate of trained blocks.")] = 1e-5,
    validation: Annotated[float, typer.Option("--validation", help="Share of people held out.")] = 0.15,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Go on from the run saved next to --out.")] = False,
    largest: LargestOption = False,
    json_out: JsonOption = False,
    threads: ThreadsOption = None,
    model: ModelOption = None,
) -> None:
    """Fine-tune an embedding with a triplet loss; the file works with --model for every command."""
    from facerec.embedding.embedder import Embedder
    from facerec.runtime.weights import user_cache_dir
    from facerec.training import crops as training_crops
    from facerec.training.trainer import TrainConfig, Trainer

    recognizer = recognizer_for(ctx, threads, None, model)
    settings = settings_for(ctx, threads, None, model)
    config = TrainConfig(
        out=out.resolve(),
        dimension=dim,
        train=train_part,
        mining=mining,
        margin=margin,
        epochs=epochs,
        steps=steps,
        people_per_batch=people,
        images_per_person=images,
        learning_rate=lr,
        backbone_learning_rate=backbone_lr,
        validation=validation,
        seed=seed,
    )
    cache = user_cache_dir() / "training"
    with reported(ValueError):
        config.check()
        base = Embedder(settings.model, eager=True)  # the network training starts from, loaded once
        with progress_bar(2) as progress:
            task = progress.add_task("detecting and aligning faces", total=None)
            found = training_crops.load(
                data,
                recognizer.detector,
                base.preprocessing,
                cache,
                lambda done, total: progress.update(task, completed=done, total=total),
                largest=largest,
            )
        for skipped in found.skipped:
            stderr.print(f"skipped {skipped.file}: {skipped.reason}", highlight=False)
        stderr.print(f"{len(found.files)} faces of {len(found.names)} people", highlight=False)
        trainer = Trainer(found, base, config, cache)
        if resume:
            trainer.resume()

        def report(epoch) -> None:
            stderr.print(
                f"epoch {epoch.epoch}/{config.epochs}: loss {epoch.loss:.4f}, active triplets {epoch.active:.3f}, "
                f"validation accuracy {epoch.accuracy:.4f}, TAR@FAR={config.far:g} {epoch.tar:.4f}",
                highlight=False,
            )

        with progress_bar(2) as progress:
            task = progress.add_task("training", total=trainer.steps_per_epoch())
            outcome = trainer.run(
                on_step=lambda done, total: progress.update(task, completed=done, total=total), on_epoch=report
            )
    best = outcome.best
    doc = {
        "out": str(config.out),
        "best_epoch": best.epoch,
        "validation_accuracy": best.accuracy,
        "validation_tar_at_far": best.tar,
        "threshold": best.threshold,
        "centred": best.centred,
        "history": [e.__dict__ for e in outcome.history],
        "data": found.summary(),
    }
    if json_out:
        typer.echo(json.dumps(doc, indent=2, default=float))
    else:
        typer.echo(
            f"wrote {config.out}: epoch {best.epoch}, validation accuracy {best.accuracy:.4f}, "
            f"TAR@FAR={config.far:g} {best.tar:.4f}, threshold {best.threshold:.4f}"
            f"{', vectors centred on the training people' if best.centred else ''}"
        )
