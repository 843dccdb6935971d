"""Who may see and do what: logging in (:mod:`~web.security.login`), roles and unit scope on every
view (:mod:`~web.security.policy`), and which runs anonymous readers see
(:mod:`~web.security.visibility`)."""
