# bench/: benchmarks, run by `make bench` (never by `make check`).
