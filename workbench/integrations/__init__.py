"""Integrations with other libraries' training loops: ``workbench.integrations.hf`` (transformers).

Each module imports its library; ``import workbench`` imports none of them.
"""
