"""The ground floor: what a user writes and what the core's tables mean.

Scenario and event schemas (``config``), the mechanism vocabulary declared once
(``mechanism``), the DER and bid table columns with units and bounds (``tables``) and the
actor names (``actors``). Imports nothing of tsodso; every other package may import it.
"""
