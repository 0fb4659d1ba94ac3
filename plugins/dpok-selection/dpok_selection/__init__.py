"""First-party dpok selection metrics, registered through the `dpok` entry point like any third-party plugin.

Kernel metrics (on (e_x, e_y+, e_y-) triplets): PND, PNAV, TAT, NAG.
Divergence metrics (on pairs of distributions): support overlap, drift magnitude, kurtosis, smoothness.
"""
