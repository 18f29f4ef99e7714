"""The product's stages, each one command: train, quantize, deploy, verify, the pipeline that
chains them, and robustness studies.  Top of the import graph below the CLI."""
