"""The review of a preparation's record, shared by the review and audit screens and the PDF.

- :mod:`~station.services.review.model`: what a review holds (steps, flags, timeline,
  signatures);
- :mod:`~station.services.review.replay`: the stored events folded through the workflow;
- :mod:`~station.services.review.wording`: the flags and the timeline's lines in plain words;
- :mod:`~station.services.review.build`: :func:`review_preparation`, which puts them together.
"""
