#!/usr/bin/env python3
"""Draws docs/benchmarks-read-hit.svg from BenchmarkDotNet's CSV report of ReadHitBenchmarks.

Usage: python3 tests/BackgroundCache.Benchmarks/make-chart.py <artifacts>/results/BackgroundCache.Benchmarks.ReadHitBenchmarks-report.csv docs/benchmarks-read-hit.svg
No third-party packages: the SVG is written by hand.
"""
import csv
import html
import sys

UNITS = {"ps": 0.001, "ns": 1.0, "us": 1000.0, "μs": 1000.0, "µs": 1000.0, "ms": 1_000_000.0}


def nanoseconds(text):
    value, unit = text.replace(",", "").split()
    return float(value) * UNITS[unit]


def main(source, target):
    with open(source, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=","))
    bars = []
    for row in rows:
        name = row.get("Method") or row.get("Description")
        mean = row.get("Mean")
        if not name or not mean or mean in ("NA", "?"):
            continue
        bars.append((name.strip("'"), nanoseconds(mean), row.get("Allocated", "").strip()))
    bars.sort(key=lambda bar: bar[1])
    widest = max(bar[1] for bar in bars)
    left, bar_area, row_height = 330, 420, 26
    height = 60 + row_height * len(bars)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + bar_area + 170}" height="{height}" font-family="sans-serif" font-size="13">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="24" font-size="15" font-weight="bold">Read hit, one thread (mean ns per read; shorter is better)</text>',
    ]
    for index, (name, mean, allocated) in enumerate(bars):
        y = 44 + index * row_height
        width = max(2.0, bar_area * mean / widest)
        colour = "#2b7a2b" if "BackgroundCache" in name else ("#888888" if "floor" in name or "clock" in name.lower() else "#3465a4")
        out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{html.escape(name)}</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{width:.1f}" height="{row_height - 8}" fill="{colour}"/>')
        out.append(f'<text x="{left + width + 6:.1f}" y="{y + 15}">{mean:.2f} ns, {html.escape(allocated)}</text>')
    out.append("</svg>")
    with open(target, "w", encoding="utf-8") as handle:
        handle.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
