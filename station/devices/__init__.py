"""The hood's devices, as plain values: cameras, decoding, printed-lot OCR, the label printer.

Also the scanners and the step photographs.
"""
