"""Side-by-side training-step benchmarks: TRL's DPOTrainer vs the dpok engine, and what each dpok feature
costs. Run ``python benchmarks/run.py --preset tiny`` (seconds) or ``--preset smollm2`` (the headline,
minutes); see docs/performance.md."""
