"""Reproductions of the paper's experiments; each module exposes ``run(...) -> dict`` and is
wired to ``neuromorph reproduce figN`` in the CLI."""
