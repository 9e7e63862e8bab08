"""The built-in recipes: ``text-classification``, ``causal-lm`` and ``script``.

Each module defines ``RECIPE`` and imports torch, transformers and peft only inside the functions
that run in the job process, so that listing or validating recipes stays light.
"""
