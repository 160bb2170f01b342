"""``python -m vigil.synth OUT_DIR``: write a synthetic dataset and its ground truth."""

from __future__ import annotations

import argparse
from datetime import date

from vigil.synth.config import ANOMALY_TYPES, SynthConfig
from vigil.synth.generator import generate_events
from vigil.synth.truth import ground_truth
from vigil.synth.writers import FORMATS, write_dataset, write_ground_truth


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m vigil.synth", description=__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, default=SynthConfig.start)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--bad-fraction", type=float, default=0.0)
    parser.add_argument("--incomplete-fraction", type=float, default=0.04)
    parser.add_argument("--formats", default="csv", help=f"comma-separated: {','.join(FORMATS)}")
    parser.add_argument("--name", default="events")
    kinds = ",".join(ANOMALY_TYPES)
    parser.add_argument("--anomalies", default="", help=f"comma-separated: {kinds}")
    parser.add_argument("--anomaly-count", type=int, default=1)
    parser.add_argument("--anomaly-warmup-days", type=int, default=14)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Generate, write the files and ``<name>.truth.json``, print the paths."""
    args = parse_args(argv)
    config = SynthConfig(
        seed=args.seed,
        start=args.start,
        days=args.days,
        rows=args.rows,
        bad_fraction=args.bad_fraction,
        incomplete_fraction=args.incomplete_fraction,
        anomalies=tuple(a for a in args.anomalies.split(",") if a),
        anomaly_count=args.anomaly_count,
        anomaly_warmup_days=args.anomaly_warmup_days,
    )
    table = generate_events(config)
    paths = write_dataset(table, args.out_dir, args.formats.split(","), args.name)
    paths["truth"] = write_ground_truth(
        ground_truth(table, config), paths[next(iter(paths))].with_name(f"{args.name}.truth.json")
    )
    for fmt, path in paths.items():
        print(f"{fmt}\t{path}")


if __name__ == "__main__":
    main()
