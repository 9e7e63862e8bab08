"""Integrations with other libraries' training loops: ``workbench.integrations.hf`` (transformers).

Each module imports its library; ``import workbench`` imports none of them. ``_register`` (standard
library only, run by ``import workbench``) adds ``report_to="workbench"`` to transformers once
transformers itself is imported.
"""
