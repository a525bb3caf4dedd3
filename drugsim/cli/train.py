"""``drugsim train siamese|classifier``: train the paper's networks (sections 2.6, 3, 4.2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict

from drugsim.cli import options

SIAMESE_EPILOG = """examples:
  drugsim train siamese --variant improved --backbone resnet18 --data data/synthetic-quick \\
      --profile quick --out models/resnet18-improved.pt
  drugsim train siamese --variant classic --backbone vgg16 --data grocery --profile tiny --out vgg.pt
  drugsim train siamese --variant triplet --backbone efficientnet-lite0 --weights imagenet \\
      --data grocery --profile quick --out triplet.pt
  drugsim train siamese --variant improved --backbone efficientnet-lite0 --weights imagenet \\
      --data data/synthetic-quick --profile quick --out lite.pt
      # tiny/quick default for a pretrained EfficientNet-Lite0: --train partial (blocks 11-15, the head
      # convolution and the improved head train on cached block-10 features of 3 views); quick trains
      # drugsim's synthetic boxes at 128 px for one epoch, photos (Grocery, your folder) at 224 px for
      # 2 epochs on 6,000 pairs: a photographed carton needs the larger input
  drugsim train siamese --backbone efficientnet-lite0 --weights imagenet --train frozen \\
      --data grocery --profile quick --out lite.pt   # train the improved head only (about a minute)
  drugsim train siamese --backbone efficientnet-lite0 --weights imagenet --train partial \\
      --fine-tune-from 13 --frozen-views 1 --image-size 128 --data grocery --out lite.pt
  drugsim train siamese --backbone efficientnet-lite0 --weights imagenet --train full \\
      --profile paper --device cuda --data grocery --out lite.pt   # end to end, the paper's way
  drugsim train siamese ... --out m.pt --resume        # continue an interrupted run (m.last.pt)
  torchrun --nproc_per_node=4 -m drugsim train siamese ... --profile paper --out m.pt   # DDP

profiles: paper = the paper's settings (224 px, 5 epochs, batch 64, Adam 5e-4, lr x0.5 every 2 epochs,
threshold 0.8); quick = 48 px, a few hundred pairs (minutes on a CPU); tiny = 32 px (about a minute).
weights: random (default) | imagenet (torchvision file already in the torch hub cache, or the
efficientnet-lite0 package; never downloaded) | PATH to a state dict.
Then: drugsim evaluate --method siamese-improved --model models/resnet18-improved.pt ...
"""

CLASSIFIER_EPILOG = """examples:
  drugsim train classifier --data data/synthetic-quick --profile quick --out models/classifier.pt
  drugsim train classifier --data data/paper --profile paper --out classifier.pt --json table6.json

Labels come from the feature-rich flag: manifest.csv's feature_rich column, or file names
<drug>_<index>_<flag>.jpg (1 = feature-rich). The paper profile: 30 epochs, Adam 1e-3, lr x0.1 every 7.
"""


def _common(parser: argparse.ArgumentParser) -> None:
    options.add_data_option(parser)
    parser.add_argument("--profile", default="quick", choices=("tiny", "quick", "paper"),
                        help="settings preset (default: quick)")
    parser.add_argument("--out", required=True, type=options.output_file(),
                        help="checkpoint to write (best validation epoch)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT.last.pt if it exists")
    parser.add_argument("--backbone", default="resnet18", choices=("resnet18", "vgg16", "efficientnet-lite0"))
    parser.add_argument("--weights", default="random", help="random | imagenet | PATH (default: random)")
    parser.add_argument("--epochs", type=options.int_range(1, options.MAX_EPOCHS),
                        help="override the profile's epochs")
    parser.add_argument("--batch-size", type=options.int_range(1, options.MAX_BATCH),
                        help="override the batch size")
    parser.add_argument("--lr", type=options.float_range(0.0, options.MAX_LR, low_open=True),
                        help="override the learning rate")
    parser.add_argument("--image-size", type=options.int_range(16, 4096),
                        help="override the input size in pixels")
    options.add_seed_option(parser, "seed of splits, pairs and training (default: 0)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--workers", type=options.int_range(0, options.MAX_JOBS), default=0,
                        help="DataLoader worker processes (default: 0)")
    parser.add_argument("--no-augment", action="store_true", help="train without the paper's augmentation")
    options.add_json_file(parser, "also write the results as JSON here (- = standard output only)")
    options.add_quiet_option(parser)


def register(subparsers) -> None:
    train = options.add_command(
        subparsers, "train", help="train a Siamese network or the feature-face classifier",
        description="Train the paper's deep models.", epilog=SIAMESE_EPILOG)
    kinds = train.add_subparsers(dest="train_kind", metavar="KIND")

    siamese = options.add_command(
        kinds, "siamese", help="classic (Fig. 8), improved (Fig. 9) or triplet Siamese network",
        description="Train a Siamese network on Algorithm 2 pairs of the training drugs; the validation "
                    "drugs pick the best epoch.", epilog=SIAMESE_EPILOG)
    siamese.add_argument("--variant", default="improved", choices=("improved", "classic", "triplet"))
    _common(siamese)
    siamese.add_argument("--n-train-pairs", type=options.int_range(1, options.MAX_PAIRS),
                         help="cap on training pairs (default: the profile's)")
    siamese.add_argument("--contrastive-form", choices=("paper", "hadsell"),
                         help="classic variant: eq. 22 as printed (default) or Hadsell's form")
    siamese.add_argument("--threshold", type=options.finite_float, help="decision threshold (default 0.8, as the paper)")
    siamese.add_argument(
        "--train", choices=("full", "frozen", "partial"), dest="training_mode",
        help="how the backbone trains: full (end to end, the paper), frozen (only the improved head, on "
             "embeddings computed once per image), partial (EfficientNet-Lite0: the blocks from "
             "--fine-tune-from on, on cached features). Default: partial for --backbone efficientnet-lite0 "
             "--weights imagenet --variant improved in tiny and quick, else full")
    siamese.add_argument("--freeze-backbone", action="store_true", help="same as --train frozen")
    siamese.add_argument("--fine-tune-from", type=options.int_range(0, 16), metavar="BLOCK",
                         help="with --train partial: first EfficientNet-Lite0 block (0-16) that trains "
                              "(default: 11)")
    siamese.add_argument(
        "--frozen-views", type=options.int_range(1, options.MAX_VIEWS),
        help="with --train frozen|partial: cached views per training image, plain + augmented (default: the "
             "profile's; frozen 1 in tiny/quick, 2 in paper; partial 2 in tiny, 3 in quick and paper)")
    siamese.set_defaults(func=run_siamese)

    classifier = options.add_command(
        kinds, "classifier", help="the feature-face classifier (section 3, Table 6)",
        description="Train a ResNet18 (or other backbone) to tell feature-rich box faces from feature-poor ones.",
        epilog=CLASSIFIER_EPILOG)
    _common(classifier)
    classifier.add_argument("--n-train-images", type=options.int_range(1, options.MAX_PAIRS),
                            help="cap on training images")
    classifier.set_defaults(func=run_classifier)
    train.set_defaults(func=lambda args: (train.print_help(), 1)[1])


def _overrides(args: argparse.Namespace) -> Dict[str, Any]:
    return {"backbone": args.backbone, "weights": args.weights, "epochs": args.epochs,
            "batch_size": args.batch_size, "lr": args.lr, "image_size": args.image_size, "seed": args.seed,
            "device": args.device, "num_workers": args.workers, "augment": False if args.no_augment else None}


def _report(payload: Dict[str, Any], json_path: Path | None) -> None:
    from drugsim.io import is_stdout, write_text_atomic
    from drugsim.report import json_text

    text = json_text(payload)
    print(text)
    if json_path and not is_stdout(json_path):
        write_text_atomic(json_path, text + "\n")


def _guard_training_outputs(args: argparse.Namespace) -> None:
    """Before any training: ``--out`` is a regular file (its resumable ``OUT.last.pt`` goes beside it), it and
    ``--json`` are two files, and neither is an input (the dataset, a weights file)."""
    from drugsim.cli.common import dataset_folder, guard_outputs
    from drugsim.deep.checkpoints import last_checkpoint_path
    from drugsim.errors import OutputError
    from drugsim.io import check_output_path

    options.check_distinct_outputs(**{"--out": args.out, "--json": args.json})
    out = Path(args.out)
    if out.exists() and not out.is_file():
        raise OutputError(f"--out {out}: is a device or pipe; a checkpoint needs a regular file (its resumable "
                          f"state is written beside it as {last_checkpoint_path(out).name})")
    last = last_checkpoint_path(out)
    check_output_path(last, what="--out (resumable state)")
    weights = Path(args.weights) if args.weights not in ("random", "imagenet") else None
    guard_outputs({"--out": out, "--out (resumable state)": last, "--json": args.json},
                  files={"--weights": weights}, folders={"--data": dataset_folder(args.data)})


def run_siamese(args: argparse.Namespace) -> int:
    from drugsim.data.protocol import ProtocolSettings, load_protocol_pairs
    from drugsim.deep.config import default_training_mode, siamese_config, training_mode_flags
    from drugsim.deep.training import train_siamese
    from drugsim.errors import ConfigError

    _guard_training_outputs(args)
    if args.contrastive_form is not None and args.variant != "classic":
        raise ConfigError(f"--contrastive-form is the classic variant's loss; --variant {args.variant} would "
                          "ignore it: drop it or use --variant classic")

    if args.freeze_backbone and args.training_mode not in (None, "frozen"):
        raise ConfigError(f"--freeze-backbone contradicts --train {args.training_mode}; give one of them")
    mode = "frozen" if args.freeze_backbone else args.training_mode or default_training_mode(
        args.profile, variant=args.variant, backbone=args.backbone, weights=args.weights)
    if args.fine_tune_from is not None and mode != "partial":
        raise ConfigError(f"--fine-tune-from applies to --train partial, not {mode}")
    if args.frozen_views is not None and mode not in ("frozen", "partial"):
        raise ConfigError(f"--frozen-views applies to --train frozen or partial (cached views); training is "
                          f"{mode}, which would ignore it")
    data = load_protocol_pairs(args.data, settings=ProtocolSettings(seed=args.seed), splits=("train", "val"))
    pairs = data.pairs_by_split
    config = siamese_config(args.profile, data_kind=data.kind, variant=args.variant,
                            n_train_pairs=args.n_train_pairs, contrastive_form=args.contrastive_form,
                            threshold=args.threshold, frozen_views=args.frozen_views,
                            fine_tune_from=args.fine_tune_from, **training_mode_flags(mode), **_overrides(args))
    if not args.quiet:
        print(f"training {args.variant} ({mode}) on {data.kind} data, profile {args.profile}: "
              f"{config.image_size} px, {config.epochs} epochs, batch {config.batch_size}", file=sys.stderr, flush=True)
    result = train_siamese(config, pairs["train"], pairs["val"], out=args.out, resume=args.resume,
                           progress=not args.quiet)
    _report({"checkpoint": str(result.checkpoint), "config": config.to_dict(), "history": result.history,
             "best_epoch": result.best_epoch, "best_val_accuracy": result.best_val_accuracy,
             "train_accuracy": result.train_accuracy, "train_seconds": result.seconds,
             "weights": result.weights, "device": result.device, "training_mode": mode, "data_kind": data.kind,
             "results": result.extra}, args.json)
    return 0


def run_classifier(args: argparse.Namespace) -> int:
    from drugsim.data.protocol import ProtocolSettings, load_protocol_pairs
    from drugsim.deep.classifier import FeatureFacePredictor, evaluate_classifier, train_classifier
    from drugsim.deep.config import classifier_config

    _guard_training_outputs(args)
    config = classifier_config(args.profile, n_train_images=args.n_train_images, **_overrides(args))
    splits = load_protocol_pairs(args.data, settings=ProtocolSettings(seed=args.seed), splits=()).records_by_split
    result = train_classifier(config, splits["train"], splits["val"], out=args.out, resume=args.resume,
                              progress=not args.quiet)
    test = evaluate_classifier(FeatureFacePredictor(args.out, device=args.device), splits["test"]) \
        if splits.get("test") else {}
    _report({"checkpoint": str(result.checkpoint), "config": config.to_dict(), "history": result.history,
             "best_epoch": result.best_epoch, "best_val_accuracy": result.best_val_accuracy,
             "train_accuracy": result.train_accuracy, "test_accuracy": test.get("accuracy"),
             "images_per_second": test.get("images_per_second"), "train_seconds": result.seconds,
             "weights": result.weights, "device": result.device}, args.json)
    return 0
