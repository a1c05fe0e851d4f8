"""The benchmark harness of issue 7: `make bench`, `make bench-quick`, or `python -m bench --help`."""
