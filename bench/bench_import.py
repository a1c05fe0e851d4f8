"""Import benchmark: `crm-provider customers import` of generated files, rows/s and peak memory.

    python -m bench.bench_import [--rows 100000 1000000]

For each size: a CSV file of that many new customers in the columns an old CRM's export has (an old id,
member number, created, email, names, personal id, mobile, an invoice address, gender, birthday, the
communication choices, a consent, an additional option, an opening points balance), imported into an empty
database (embedded PostgreSQL in a temporary folder deleted at exit, the example catalogues and the demo
program set) by the command as an operator runs it, in a process of its own: wall time from start to exit,
and that process's peak resident memory (the kernel's high-water mark). A second size shows whether memory
grows with the file. The export of the imported database is timed too. Results are printed and written to
bench/results-import.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from crm_provider import db, migrate, personal_ids  # noqa: E402
from crm_provider.catalog import service as catalog  # noqa: E402

from .run import commit, machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results-import.md"
EXAMPLES = {e["operation"]: e for e in json.loads((ROOT / "tests" / "data" / "crm-spi-v2-examples.json").read_text())}
HEADER = ["customer_id", "member_number", "created", "email", "name_first", "name_last", "personal_id", "mobile",
          "invoice_address.address", "invoice_address.zip", "invoice_address.city", "invoice_address.country_id",
          "gender", "birthday", "accepts_communication", "consents", "option:fav-nhl-team", "bonus_points"]
FIRST = ("Anna", "Erik", "Maria", "Lars", "Karin", "Per", "Eva", "Nils", "Sara", "Olof")
LAST = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson")


def write_file(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for n in range(rows):
            year, day = 1940 + n % 60, 1 + n % 28
            writer.writerow([
                f"old-{n}", str(5_000_000 + n), f"20{10 + n % 15}-0{1 + n % 9}-{day:02d}T12:00:00+00:00",
                f"member{n}@example.com", FIRST[n % 10], LAST[n % 8], f"{year}{1 + n % 12:02d}{day:02d}-{n:07d}",
                f"070{n:07d}", f"Storgatan {1 + n % 90}", f"{11000 + n % 8000}", "Stockholm", "SE",
                ("male", "female", "undisclosed")[n % 3], f"{year}-{1 + n % 12:02d}-{day:02d}",
                "email|sms" if n % 2 else "email", "consent_personal_offers" if n % 3 else "",
                ("new-york-rangers", "toronto-maple-leafs")[n % 2], str(n % 3000)])


def fresh_database(url: str) -> None:
    with db.connect(url, autocommit=True) as conn:
        tables = [r["tablename"] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'")]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    with db.transaction(url) as conn:
        catalog.replace_consents(conn, EXAMPLES["Get Consents"]["response"])
        catalog.replace_additional_options(conn, EXAMPLES["Get Additional Options"]["response"])
        from psycopg.types.json import Jsonb

        from crm_provider.demo import PROGRAM
        conn.execute("INSERT INTO program_versions (document, set_by) VALUES (%s, 'bench')", [Jsonb(PROGRAM)])


def timed(command: list[str], env: dict, stdout=subprocess.DEVNULL) -> tuple[float, float, str]:
    """Wall seconds, the process's peak RSS in MiB (run alone: RUSAGE_CHILDREN's maximum is its own), stderr."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "p = subprocess.run(sys.argv[1:], stdout=sys.stdout, stderr=subprocess.PIPE, text=True); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
            "file=sys.stderr); sys.stderr.write(p.stderr); sys.exit(p.returncode)")
    done = subprocess.run([sys.executable, "-c", code, *command], env=env, stdout=stdout, stderr=subprocess.PIPE,
                          text=True)
    first, _, rest = done.stderr.partition("\n")
    if done.returncode:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{rest[-3000:]}")
    seconds, rss_kib = first.split()
    return float(seconds), int(rss_kib) / 1024, rest


def check_floor(url: str, path: Path, rows: int = 20_000) -> float:
    """CPU µs per row of the rows' checks alone (the POST's schema and normalisation, the catalogues, the
    sealing), in this one process, over the file's first `rows` rows: the floor the import's other work
    stands on."""
    import itertools

    import crm_provider.program.service  # noqa: F401  (registers bonus_points)
    from crm_provider.customers import transfer

    with db.connect(url) as conn:
        offered = catalog.offered(conn)
    with path.open(newline="", encoding="utf-8") as text:
        reader = csv.reader(text)
        header = transfer.Header.check(next(reader), offered)
        batch = [(n + 2, cells) for n, cells in enumerate(itertools.islice(reader, rows))]
    keyring = personal_ids.parse(personal_ids.generate())
    started = time.process_time()
    checked = transfer._check(header, "SE", offered, keyring, 10, batch)
    assert not any(isinstance(result, str) for _, result in checked), "the generated rows are all good"
    return (time.process_time() - started) / len(batch) * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="crm-import-bench-"))
    url = db.start_embedded(work / "postgres")
    migrate.upgrade(url)
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "CRM_PERSONAL_ID_KEYS": personal_ids.generate()}
    host, results = machine(), []
    for rows in args.rows:
        path = work / f"customers-{rows}.csv"
        write_file(path, rows)
        fresh_database(url)
        floor_us = check_floor(url, path)
        with (work / "import.out").open("w") as out:
            seconds, rss, _ = timed([sys.executable, "-m", "crm_provider", "customers", "import", str(path)], env,
                                    stdout=out)
        summary = next(line for line in (work / "import.out").read_text().splitlines() if "rows:" in line)
        with (work / "export.csv").open("w") as out:
            export_seconds, export_rss, _ = timed([sys.executable, "-m", "crm_provider", "customers", "export"], env,
                                                  stdout=out)
        result = {"rows": rows, "megabytes": path.stat().st_size / 2**20, "seconds": seconds,
                  "rows_per_s": rows / seconds, "peak_rss_mib": rss, "summary": summary.strip(),
                  "export_seconds": export_seconds, "export_rows_per_s": rows / export_seconds,
                  "export_peak_rss_mib": export_rss, "check_us": floor_us}
        results.append(result)
        print(f"{rows:>9,} rows ({result['megabytes']:.0f} MB): import {seconds:6.1f} s, {result['rows_per_s']:7.0f} "
              f"rows/s, peak RSS {rss:5.0f} MiB; export {export_seconds:5.1f} s, peak RSS {export_rss:4.0f} MiB "
              f"[{result['summary']}]", flush=True)
        path.unlink()
    lines = [
        "# crm-provider: importing customers",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · commit {commit()} · `python -m bench.bench_import`",
        f"- machine: {host['nproc']} CPUs ({host['cpu']}), {host['memory_gib']} GiB, load average at start "
        f"{' / '.join(map(str, host['load_average']))}",
        "- each file imported into an empty database (example catalogues, demo program, sealed personal ids) by "
        "`crm-provider customers import FILE`, a process of its own; then `customers export` of the same database",
        "",
        "- the floor: the rows' checks alone (the POST's schema and normalisation, the catalogues, the sealing) in "
        "one process, CPU µs per row over the file's first 20,000 rows: as many seconds as a million rows take so "
        "on one CPU",
        "",
        "| rows | file MB | import s | rows/s | peak RSS MiB | checks alone: CPU µs/row = s per million | export s "
        "| export rows/s | export peak RSS MiB |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        *(f"| {r['rows']:,} | {r['megabytes']:.0f} | {r['seconds']:.1f} | {r['rows_per_s']:,.0f} | "
          f"{r['peak_rss_mib']:.0f} | {r['check_us']:.0f} | {r['export_seconds']:.1f} | "
          f"{r['export_rows_per_s']:,.0f} | {r['export_peak_rss_mib']:.0f} |" for r in results),
        "",
    ]
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines) + f"\n(written to {args.output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
