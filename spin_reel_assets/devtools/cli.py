"""The ``spin-reel`` command line.

Subcommands are entries of ``COMMANDS``: a name, a help line, a function that adds its arguments to an argparse
subparser and a function that runs it and returns the exit code. To add one, write those two functions and add a
``Command`` to the dict. A command that raises ``UsageError`` gets argparse's usage message and exit code 2 (no
traceback).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


class UsageError(ValueError):
    """Arguments that parse but make no sense: reported like an argparse error (exit 2)."""


@dataclass(frozen=True)
class Command:
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _count(text: str) -> int:
    """A positive count; accepts 25000000, 25_000_000, 25M, 1.5k."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    scale = 1
    suffix = cleaned[-1:].lower()
    if suffix in ("k", "m", "g"):
        scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}[suffix]
        cleaned = cleaned[:-1]
    try:
        value = float(cleaned) * scale if scale != 1 or "." in cleaned or "e" in cleaned.lower() else int(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a count: {text!r}") from None
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return int(value)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63-1, got {text}")
    return value


# --- synth ---------------------------------------------------------------------------------------------------------


def _configure_synth(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ratings", type=_count, default=25_000_000, help="number of ratings (default: 25M, as ML-25M)")
    parser.add_argument("--users", type=_count, default=162_000, help="number of users, each with >= 20 ratings (default: 162000)")
    parser.add_argument("--movies", type=_count, default=62_000, help="number of MovieLens movies (default: 62000)")
    parser.add_argument("--tmdb-movies", type=_count, default=1_000_000,
                        help="rows of the TMDB file, linked MovieLens movies included (default: 1000000)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the files into (created if missing)")
    parser.add_argument("--seed", type=_seed, default=42, help="random seed; same arguments give byte-identical files (default: 42)")
    parser.add_argument("--gzip", action="store_true", help="write .csv.gz files instead of .csv")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _run_synth(args: argparse.Namespace) -> int:
    from spin_reel_assets.devtools import synth  # numpy/pyarrow only when needed

    config = synth.SynthConfig(
        ratings=args.ratings, users=args.users, movies=args.movies, tmdb_movies=args.tmdb_movies,
        out=args.out, seed=args.seed, gzip=args.gzip,
    )
    try:
        synth.validate(config)
    except synth.SynthError as error:
        raise UsageError(str(error)) from None
    last = [-1.0]

    def progress(kind: str, done: int, total: int, seconds: float) -> None:
        if args.quiet or (done < total and seconds - last[0] < 2.0):
            return
        last[0] = seconds
        print(f"  {kind}: {done:>13,} / {total:,} rows ({done / total:6.1%})  {seconds:7.1f}s", file=sys.stderr, flush=True)

    if not args.quiet:
        print(
            f"spin-reel synth: {config.ratings:,} ratings, {config.users:,} users, {config.movies:,} movies, "
            f"{config.tmdb_movies:,} TMDB rows, seed {config.seed} → {config.out}",
            file=sys.stderr, flush=True,
        )
    summary = synth.generate(config, progress=progress)
    for kind, path in summary.files.items():
        print(f"{path}  {summary.rows[kind]:,} rows  {summary.bytes[kind] / 1e6:,.1f} MB")
    print(
        f"{summary.rows['ratings']:,} ratings ({summary.rated_movies:,} movies rated) in {summary.seconds:.1f}s: "
        f"{summary.ratings_per_second:,.0f} ratings/s overall "
        f"(ratings.csv alone {summary.rows['ratings'] / summary.ratings_seconds:,.0f}/s)"
    )
    return 0


# --- rebuild -------------------------------------------------------------------------------------------------------


def _configure_rebuild(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="observe the inputs and list what is unsynced, build nothing")


def _run_rebuild(args: argparse.Namespace) -> int:
    import dagster as dg

    from spin_reel_assets.definitions import defs
    from spin_reel_assets.devtools import staleness

    definitions = defs()
    assets, resources = list(definitions.assets), dict(definitions.resources)
    with dg.DagsterInstance.get() as instance:  # $DAGSTER_HOME, the instance the UI shows
        if args.dry_run:
            staleness.observe_sources(instance, assets, resources)
            todo = staleness.unsynced(instance, assets)
            print("\n".join(f"{key}: {why}" for key, why in sorted(todo.items())) or "nothing to rebuild")
            return 0
        try:
            rebuilt = staleness.rebuild(instance, assets, resources, step_processes=True)
        except staleness.RebuildFailed as error:
            print(f"rebuild failed: {error}", file=sys.stderr)
            return 1
    print("rebuilt: " + " ".join(rebuilt) if rebuilt else "nothing to rebuild: every asset is in sync with its inputs and code")
    return 0


COMMANDS: dict[str, Command] = {
    "synth": Command(
        help="write synthetic MovieLens-25M-scale input files (ratings, movies, links, TMDB v11)",
        configure=_configure_synth,
        run=_run_synth,
    ),
    "rebuild": Command(
        help="observe the input files and materialize only the unsynced and missing assets, in dependency order",
        configure=_configure_rebuild,
        run=_run_rebuild,
    ),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="spin-reel", description="Spin The Reel: hybrid movie recommender tools.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parsers = {}
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        command.configure(sub)
        parsers[name] = sub
    return parser, parsers


def main(argv: list[str] | None = None) -> int:
    parser, parsers = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except UsageError as error:
        parsers[args.command].error(str(error))  # exits 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
