"""The pack language: a year's method written as YAML, read, checked and hashed.

Reading goes ``source`` (YAML with line marks and exact decimals) → ``read`` (typed values) →
``rules`` / ``load`` (the parsed ``model``, with every problem collected as ``errors``) →
``check`` (against a snapshot's codes). ``schema`` lists the fields a condition may name,
``conditions`` is the condition language, ``scoring`` the indicator scoring methods, and
``document`` the canonical bytes a pack's hash is taken over.
"""
