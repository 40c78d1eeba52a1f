"""Command line: `python -m benchmark run CONFIG.toml --out DIR`, `compare DIR REFERENCE`,
`report DIR`, `list`.

A user mistake exits with status 2 and one line `error: <file>: <key>: <message>` on stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark", description="Mode-weight benchmark of energy-based models."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a suite, then build its report")
    run.add_argument("config", type=Path, help="suite config (TOML)")
    run.add_argument("--out", type=Path, required=True, help="output directory DIR")
    run.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="local worker processes"
    )
    run.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per run (default 1; the numbers depend on it, not on --workers)",
    )
    run.add_argument("--scheduler", help="address of a Dask scheduler (instead of --workers)")
    run.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    run.add_argument("--force", action="store_true", help="redo finished runs too")
    run.add_argument(
        "--plugin", action="append", default=[], help="module registering methods (repeatable)"
    )
    run.add_argument(
        "--against",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="a finished suite's DIR (e.g. reports/quick) whose records stand for the runs this "
        "suite shares with it, instead of training them (repeatable)",
    )
    compare = commands.add_parser(
        "compare",
        help="whether DIR's numbers agree with a reference run of the same suite (e.g. "
        "reports/quick), per target and method",
    )
    compare.add_argument("dir", type=Path)
    compare.add_argument("reference", type=Path)
    compare.add_argument("--plugin", action="append", default=[], help=argparse.SUPPRESS)
    report = commands.add_parser("report", help="(re)build DIR's tables, figures and report.md")
    report.add_argument("dir", type=Path)
    report.add_argument("--plugin", action="append", default=[], help=argparse.SUPPRESS)
    listing = commands.add_parser("list", help="registered targets and methods")
    listing.add_argument("--plugin", action="append", default=[], help="module registering methods")
    return parser


def _list(plugins: list[str]) -> None:
    from .suite.registry import load_methods
    from .targets import FAMILIES, PRESETS

    print("target presets:")
    for name, (family, _) in PRESETS.items():
        print(f"  {name:<18} ({family})")
    print("target families:")
    for name in FAMILIES:
        print(f"  {name}")
    print("methods:")
    for name, spec in load_methods(plugins).items():
        print(f"  {name:<18} {spec.display}")


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status. A SIGTERM ends it as Ctrl-C does: the worker
    processes are ended and DIR's lock released, finished records kept (exit status 143)."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    from .errors import ConfigError

    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        if args.command == "list":
            _list(args.plugin)
            return 0
        from . import api

        if args.command == "compare":
            api.compare(args.dir, args.reference, args.plugin)
            print(f"report: {args.dir / 'report.md'}")
            return 0
        if args.command == "report":
            api.build_report(args.dir, args.plugin)
            print(f"report: {args.dir / 'report.md'}")
            return 0
        for key in ("workers", "threads"):
            if getattr(args, key) < 1:
                raise ConfigError(f"--{key}", "", f"must be at least 1, got {getattr(args, key)}")
        api.check_device(args.device, "--device")
        api.run(
            api.load_suite(args.config, args.plugin),
            args.out,
            workers=args.workers,
            threads=args.threads,
            scheduler=args.scheduler,
            device=args.device,
            force=args.force,
            against=args.against,
            command=" ".join(["python -m benchmark", *argv]),
        )
        return 0
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. a full disk while writing the report
        print(f"error: {err.filename or 'output'}: {err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: finished runs are kept; rerun the same command to resume", file=sys.stderr
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
