"""The application: preparations, the hood session and its controller, review, order progress.

Services take plain typed commands and return plain results: no Qt, no SQL objects.
"""
