"""Contract coverage for `ape test --coverage`: fix the source maps ape reads, then check the
report against a threshold.

ape-vyper 0.8.12 stores Vyper's `source_map` output as each contract's pc map, and since Vyper
0.4 that output describes the *deployable* bytecode, while coverage matches the pcs of
*runtime* traces against it: statements light up by coincidence of numbers. `fix-pcmaps`
rewrites the pc maps in `.build/__local__.json` with `vyper -f source_map_runtime` (same
compiler, same sources), so coverage counts the statements that ran. Run it after
`ape compile` and before `ape test --coverage` (ape recompiles, and loses the fix, only when a
source changes).

`check` reads the report ape writes (`.build/coverage.xml`, `coverage.reports.xml` in
ape-config.yaml: source lines of statements, with hits), prints lines and misses per contract
and fails below the threshold.

Plain Python (no ape runtime): `python scripts/contract_coverage.py fix-pcmaps | check`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".build" / "__local__.json"
REPORT = ROOT / ".build" / "coverage.xml"


def runtime_pcmap(source: Path) -> dict[str, dict[str, list[int]]]:
    """The runtime bytecode's pc -> source location map, in ape's pcmap shape."""
    out = subprocess.run(
        [sys.executable, "-m", "vyper", "-f", "source_map_runtime", str(source)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pc_pos = json.loads(out)["pc_pos_map"]
    return {pc: {"location": loc} for pc, loc in pc_pos.items() if loc}


@click.group()
def cli() -> None:
    """Contract coverage helpers for `make test`."""


@cli.command("fix-pcmaps")
@click.option("--manifest", type=click.Path(path_type=Path), default=MANIFEST)
def fix_pcmaps(manifest: Path) -> None:
    """Replace each Vyper contract's pc map with its runtime source map."""
    data = json.loads(manifest.read_text())
    fixed = 0
    for contract in data.get("contractTypes", {}).values():
        source_id = contract.get("sourceId") or ""
        if not source_id.endswith(".vy") or "pcmap" not in contract:
            continue
        contract["pcmap"] = runtime_pcmap(ROOT / source_id)
        fixed += 1
    manifest.write_text(json.dumps(data))
    click.echo(f"runtime pc maps for {fixed} contracts")


@cli.command()
@click.option("--report", type=click.Path(path_type=Path), default=REPORT)
@click.option("--min", "minimum", type=float, default=95.0, help="Least line coverage, %.")
def check(report: Path, minimum: float) -> None:
    """Print line coverage per contract and fail below `--min` percent overall."""
    if not report.is_file():
        raise click.ClickException(f"{report} is missing: run `ape test --coverage` first")
    root = ET.parse(report).getroot()
    total = covered = 0
    for cls in root.iter("class"):
        lines = cls.findall("./lines/line")
        hit = sum(1 for line in lines if int(line.get("hits", "0")) > 0)
        total += len(lines)
        covered += hit
        rate = 100.0 * hit / len(lines) if lines else 100.0
        name = cls.get("name", "?")
        click.echo(f"{name:40s} {len(lines):5d} {len(lines) - hit:5d} {rate:6.1f}%")
    rate = 100.0 * covered / total if total else 0.0
    click.echo(f"{'contracts':40s} {total:5d} {total - covered:5d} {rate:6.1f}%")
    if rate < minimum:
        raise click.ClickException(f"contract coverage {rate:.1f}% is below {minimum:.0f}%")


if __name__ == "__main__":
    cli()
