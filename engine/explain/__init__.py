"""Answers to "why was this unit deducted": explanations and counterfactuals over a stored result.

``explanation`` walks a :class:`~engine.result.RunResult` for one unit and renders it as zh/en
text; ``counterfactual`` re-evaluates the snapshot with one fact changed to say what would have
changed the result.
"""
