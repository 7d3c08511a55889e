"""Benchmarks for clusterwatch (medians, not timed tests). See bench/README.md.

* :mod:`bench.corpus` writes a synthetic corpus of bureau list and detail pages;
* :mod:`bench.cycle` serves it with nginx on 127.0.0.2-51 and measures whole cycles
  of clusterwatch, a minimal httpx + selectolax floor, and urlwatch 2.29.
"""
