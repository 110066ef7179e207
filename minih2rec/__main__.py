"""Command line: ``python -m minih2rec info``."""
import argparse
import sys


def _cmd_info(args):
    import numpy as np

    import minih2rec
    print(f"minih2rec {minih2rec.__version__} (numpy {np.__version__}, python {sys.version.split()[0]})")
    print(minih2rec.format_backend_info())
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="python -m minih2rec", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("info", help="print the version and the kernel backends in use")
    s.set_defaults(func=_cmd_info)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
