"""The hood's devices, as plain values: camera sources, barcode decoding, scanners, photographs."""
