"""Compatibility layers: run code written for another tracker against a workbench store.

``import workbench.compat.wandb as wandb`` runs W&B scripts unchanged but for that line
(docs/migrate-wandb.md). Nothing here is imported by ``import workbench``.
"""
