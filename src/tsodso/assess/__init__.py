"""``tsodso assess``: which coordination model, at what cost. A cost-benefit and
multi-criteria assessment of the models over a year of representative days, with
intervals over seeds, implementation and operating costs, a net present value over a
horizon along a DER-uptake path, qualitative criteria and sensitivities.

Modules: ``days`` (representative days), ``points`` (the (variant, day, seed) runs),
``annual`` (weighted annual figures, intervals, ranking stability), ``assumptions`` (the
one data file of costs and parameters, ``assumptions.toml``, the criteria, overrides),
``economics`` (costs per model and actor, NPV, tornado and switching values), ``criteria``
(multi-criteria scores) and ``study`` (the whole assessment from finished points).
Must not: import the CLI or the report.
"""
