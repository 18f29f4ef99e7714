"""SynSense Xylo backend: Rockpool-format specs, a bit-exact batched emulator, Rockpool interop."""
