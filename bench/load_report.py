"""The load benchmark's figures: per-level summaries, the tables and the targets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bench.load_client import CALLS, Tally
from bench.load_lead import PAGE_TARGET_MS, PageTiming
from labeler.words import counted

TARGET_P50_MS = 10.0  # next and submit, 1 annotator, 100,000 images
TARGET_P99_MS = 25.0
TARGET_LOOPS = 80.0  # loops per second at 32 annotators
TARGET_SCALING = 1.5  # next p50 at 1,000,000 images over at 1,000
TARGET_SERVER_MS = 3.9  # the web server's CPU per loop (18x Label Studio's 69.8 ms)
TARGET_OVER_DJANGO_FLOOR = 1.5  # that CPU over the framework's floor's (load_floor_site)
TARGET_UNDER_LABEL_STUDIO = 18.0  # Label Studio's CPU per loop over ours, the same run


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def call_stats(values: Sequence[float], errors: int, seconds: float) -> dict[str, float]:
    return {
        "count": len(values),
        "rate": len(values) / seconds if seconds > 0 else 0.0,
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "errors": errors,
    }


def over_assigned(handed: Sequence[tuple[int, str]], overlap: int) -> int:
    """Hand-outs beyond overlap: per image, distinct annotators next gave it to, less overlap."""
    annotators: dict[int, set[str]] = {}
    for image_id, username in handed:
        annotators.setdefault(image_id, set()).add(username)
    return sum(max(0, len(names) - overlap) for names in annotators.values())


def level_summary(tally: Tally, *, calls: Sequence[str], overlap: int) -> dict[str, Any]:
    """The JSON-ready figures of one level from its merged tally."""
    seconds = max(tally.ended - tally.started, 1e-9)
    summary: dict[str, Any] = {
        "seconds": seconds,
        "calls": {
            call: call_stats(tally.latencies.get(call, []), tally.errors.get(call, 0), seconds)
            for call in (*calls, "loop")
        },
        "errors": sum(tally.errors.values()),
        "error_samples": tally.error_samples,
        "over_next": over_assigned(tally.handed, overlap),
        "created": tally.created,
        "acknowledged": tally.acknowledged,
        "exhausted": tally.exhausted,
        "gave_up": tally.gave_up,
        "reconnects": tally.reconnects,
        "client_cpu_seconds": tally.cpu_seconds,
    }
    return summary


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def print_level(level: dict[str, Any]) -> None:
    """One level's calls, checks, the floor and where the CPU went."""
    http = level["http"]
    print(
        f"\n{level['size']:,} images, {counted(level['concurrency'], 'annotator')}, "
        f"{http['seconds']:.1f} s, gunicorn {level['gunicorn']}"
    )
    print(f"  {'call':<8} {'count':>7} {'rate/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'errors':>7}")  # fmt: skip
    for call in (*CALLS, "loop"):
        s = http["calls"][call]
        print(
            f"  {call:<8} {s['count']:>7,} {s['rate']:>8.1f} {_ms(s['p50']):>8} "
            f"{_ms(s['p95']):>8} {_ms(s['p99']):>8} {s['errors']:>7,}"
        )
    db = level["db"]
    print(
        f"  over-assignment: {http['over_next']} by next, {db['over_db']} in the database; "
        f"annotations in the database {db['annotations']:,}, submits acknowledged "
        f"{http['acknowledged']:,} ({http['created']:,} created); count mismatches "
        f"{db['count_mismatches']}"
    )
    if http["exhausted"] or http["gave_up"]:
        print(f"  annotators told nothing is left: {http['exhausted']}; gave up: {http['gave_up']}")
    for sample in http["error_samples"]:
        print(f"  error: {sample}")
    cores = level["cpu"]
    print(
        f"  client CPU {http['client_cpu_seconds']:.2f} s "
        f"({http['client_cpu_seconds'] / http['seconds']:.2f} cores)" + _floor_text(level)
    )
    print(f"  CPU in cores (of {cores['cores']:.0f}): {cpu_text(cores)}")
    print("  " + _server_text(level))
    studio = level.get("label_studio")
    if studio:
        loop = studio["calls"]["loop"]
        print(
            f"  Label Studio: {loop['rate']:.1f} loops/s (p50 {_ms(loop['p50'])} ms, p99 "
            f"{_ms(loop['p99'])} ms, {studio['errors']} errors, {studio['over_next']} tasks "
            f"handed out twice); web server CPU per loop {studio['server_ms_per_loop']:.2f} ms, "
            f"{_label_studio_over_ours(level):.1f} times ours"
        )
        print(f"  its CPU in cores: {cpu_text(studio['cpu'])}")
        for sample in studio["error_samples"]:
            print(f"  Label Studio error: {sample}")
    elsewhere = sum(value for name, value in cores.items() if name.startswith("other: "))
    if elsewhere > 0.2:
        print(f"  warning: other work on this machine used {elsewhere:.2f} cores meanwhile")


def cpu_text(cores: dict[str, float]) -> str:
    """The parts in a fixed order, then the largest others, then the machine's total."""
    known = ["gunicorn", "postgres", "celery", "client", "postgres-other"]
    names = [name for name in known if name in cores]
    names += [name for name in cores if name.startswith("other: ")]
    parts = ", ".join(f"{name} {cores[name]:.2f}" for name in names)
    return f"{parts}; machine busy {cores['machine']:.2f}"


def _floor_text(level: dict[str, Any]) -> str:
    floor = level.get("floor")
    if not floor:
        return ""
    loop = floor["calls"]["loop"]
    return (
        f"; floor {loop['rate']:.1f} loops/s (p50 {_ms(loop['p50'])} ms, "
        f"{floor['errors']} errors); ours/floor {level['ours_over_floor']:.2f}"
    )


def _server_text(level: dict[str, Any]) -> str:
    """The web server's CPU per loop, and the framework's floor's beside it."""
    text = f"web server CPU per loop {level['server_ms_per_loop']:.2f} ms"
    bare = level.get("django_floor")
    if not bare:
        return text
    loop = bare["calls"]["loop"]
    return (
        f"{text}; Django floor {bare['server_ms_per_loop']:.2f} ms ({loop['rate']:.1f} loops/s, "
        f"p50 {_ms(loop['p50'])} ms, {bare['errors']} errors, "
        f"{bare['over_next']} handed out beyond overlap); "
        f"ours/Django floor {_cpu_over_floor(level):.2f}"
    )


def _cpu_over_floor(level: dict[str, Any]) -> float:
    return _cpu_ratio(level, level.get("django_floor"))


def _cpu_ratio(run: dict[str, Any] | None, reference: dict[str, Any] | None) -> float:
    """One run's web server CPU per loop over another's; NaN where either is missing."""
    if not run or not reference or not reference["server_ms_per_loop"] > 0:
        return math.nan
    return float(run["server_ms_per_loop"] / reference["server_ms_per_loop"])


def print_summary(levels: list[dict[str, Any]]) -> None:
    """One row per size and concurrency."""
    print("\nSummary (latencies in ms, p50/p99)")
    print(
        f"{'images':>10} {'annot.':>6} {'loops/s':>8} {'next':>11} {'image':>11} {'submit':>11} "
        f"{'errors':>6} {'over':>4} {'client CPU s':>12} {'floor/s':>8} {'ours/floor':>10} "
        f"{'web CPU ms/loop':>15} {'Django floor':>12}"
        + (f" {'Label Studio':>12} {'LS loops/s':>10} {'LS/ours':>7}" if _with_ls(levels) else "")
    )
    for level in levels:
        http = level["http"]
        calls = http["calls"]
        pairs = [f"{_ms(calls[c]['p50'])}/{_ms(calls[c]['p99'])}" for c in CALLS]
        floor = level.get("floor")
        floor_rate = f"{floor['calls']['loop']['rate']:.0f}" if floor else "-"
        ratio = f"{level['ours_over_floor']:.2f}" if floor else "-"
        print(
            f"{level['size']:>10,} {level['concurrency']:>6} {calls['loop']['rate']:>8.1f} "
            f"{pairs[0]:>11} {pairs[1]:>11} {pairs[2]:>11} {http['errors']:>6} "
            f"{http['over_next'] + level['db']['over_db']:>4} "
            f"{http['client_cpu_seconds']:>12.2f} {floor_rate:>8} {ratio:>10} "
            f"{level['server_ms_per_loop']:>15.2f} {_django_floor_ms(level):>12}"
            + (_label_studio_columns(level) if _with_ls(levels) else "")
        )


def _with_ls(levels: list[dict[str, Any]]) -> bool:
    return any(level.get("label_studio") for level in levels)


def _label_studio_columns(level: dict[str, Any]) -> str:
    """Label Studio's web CPU per loop, loops a second and CPU over ours, same level."""
    studio = level.get("label_studio")
    if not studio:
        return f" {'-':>12} {'-':>10} {'-':>7}"
    rate = studio["calls"]["loop"]["rate"]
    return (
        f" {studio['server_ms_per_loop']:>12.2f} {rate:>10.1f} "
        f"{_label_studio_over_ours(level):>7.1f}"
    )


def _label_studio_over_ours(level: dict[str, Any]) -> float:
    return _cpu_ratio(level.get("label_studio"), level)


def _django_floor_ms(level: dict[str, Any]) -> str:
    bare = level.get("django_floor")
    return f"{bare['server_ms_per_loop']:.2f}" if bare else "-"


def print_pages(pages: list[PageTiming], size: int) -> None:
    print(f"\nPages and endpoints as the lead, {size:,} images (ms over the loads)")
    print(f"{'page':<26} {'status':>6} {'median':>8} {'max':>8} {'target':>8}")
    for page in pages:
        verdict = "ok" if page.median < PAGE_TARGET_MS and page.status < 400 else "OVER"
        print(
            f"{page.name:<26} {page.status:>6} {page.median:>8.1f} {page.worst:>8.1f} "
            f"{'< ' + str(PAGE_TARGET_MS):>8} {verdict}"
        )


def print_lead_tasks(imported: dict[str, Any] | None, exported: dict[str, Any] | None) -> None:
    if imported:
        print(
            f"\nimport over REST: {imported['images']:,} images in batches of "
            f"{imported['batch']}: {imported['seconds']:.1f} s ({imported['per_second']:.0f} "
            f"images/s); created {imported['created']:,}, duplicates {imported['duplicates']}, "
            f"rejected {imported['rejected']}, failed requests {imported['errors']}"
        )
    if exported:
        print(
            f"export, background JSON: {exported['exported']:,} images written in "
            f"{exported['seconds_written']:.1f} s, downloaded in "
            f"{exported['seconds_download']:.2f} s ({exported['megabytes']:.1f} MB); "
            f"{exported['seconds']:.1f} s in all"
        )


def print_machine() -> None:
    """The load average, as the other benchmarks print it: a busy machine skews timings."""
    with open("/proc/loadavg") as loadavg:
        print(f"\nload average at the end: {' '.join(loadavg.read().split()[:3])}")


def print_targets(levels: list[dict[str, Any]], pages: list[PageTiming]) -> None:
    """Each target beside the figure it is about, where the run measured it."""
    print("\nTargets")
    by_key = {(level["size"], level["concurrency"]): level for level in levels}
    single = by_key.get((100_000, 1))
    if single:
        for call in ("next", "submit"):
            s = single["http"]["calls"][call]
            _verdict(f"{call} p50, 1 annotator, 100,000 images", s["p50"], TARGET_P50_MS, "ms")
            _verdict(f"{call} p99, 1 annotator, 100,000 images", s["p99"], TARGET_P99_MS, "ms")
    for (size, concurrency), level in by_key.items():
        if concurrency == 32:
            rate = level["http"]["calls"]["loop"]["rate"]
            _verdict(f"loops/s, 32 annotators, {size:,} images", rate, TARGET_LOOPS, "/s", low=True)
    for concurrency in sorted({c for _, c in by_key}):
        small, large = by_key.get((1_000, concurrency)), by_key.get((1_000_000, concurrency))
        if small and large:
            a = large["http"]["calls"]["next"]["p50"]
            b = small["http"]["calls"]["next"]["p50"]
            _verdict(
                f"next p50 at 1,000,000 / at 1,000 images, {counted(concurrency, 'annotator')} "
                f"({_ms(a)} / {_ms(b)} ms)",
                a / b,
                TARGET_SCALING,
                "x",
            )
    for (size, concurrency), level in by_key.items():
        where = f"{counted(concurrency, 'annotator')}, {size:,} images"
        _verdict(f"web CPU per loop, {where}", level["server_ms_per_loop"], TARGET_SERVER_MS, "ms")
        if level.get("django_floor"):
            _verdict(
                f"web CPU per loop over the Django floor's, {where}",
                _cpu_over_floor(level),
                TARGET_OVER_DJANGO_FLOOR,
                "x",
            )
        if level.get("label_studio"):
            _verdict(
                f"Label Studio's web CPU per loop over ours, {where}",
                _label_studio_over_ours(level),
                TARGET_UNDER_LABEL_STUDIO,
                "x",
                low=True,
            )
    if pages:
        slowest = max(pages, key=lambda page: page.median)
        _verdict(f"slowest page median ({slowest.name})", slowest.median, PAGE_TARGET_MS, "ms")


def _verdict(what: str, value: float, target: float, unit: str, *, low: bool = False) -> None:
    met = value >= target if low else value <= target
    bound = ">=" if low else "<="
    print(f"  {what}: {value:.2f} {unit} ({bound} {target:g}) {'ok' if met else 'MISSED'}")
