"""neuromorph: spike coding networks from learning to silicon.

Data flows one way: ``signals`` → ``simulator``/``plasticity`` → ``network`` →
``quantization`` (top-level package) → ``backends`` → verification report.
"""
__version__ = "0.1.0"
