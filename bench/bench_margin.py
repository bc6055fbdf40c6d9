"""Benchmark the margin engine; the same code as ``prophex bench-margin``."""

from prophex.margin.cli import bench_margin_command

if __name__ == "__main__":
    bench_margin_command(json_out=False)
