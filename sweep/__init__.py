"""The co-design loop: a grid of generator configurations, perturbation sources and ZO methods, each point priced
in hardware (Yosys) and trained (pezo.train), joined into tables, plots, a Pareto front and a guideline.

- `grid`: blocks of settings crossed into validated points; `presets`: the PeZO paper's figures and a smoke test;
- `run`: the points run into a sweep folder, resumably, by shards or by several workers at once; `cost`: a
  point's hardware;
- `measures`, `analysis`: what a point and a configuration measure, and what is inferred from them;
- `report`, `plots`, `guideline`: results.json/csv, PNG plots, report.md and guideline.md; `claims`: the PeZO
  paper's claims judged from a sweep;
- `cli`: `pezo sweep run | report`.
"""
