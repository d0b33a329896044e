"""``vidmp3``: the command line client of the public API (login, resumable uploads with
progress, live status, resumable downloads), for people and for scripts (``--json``, exit
codes). It speaks HTTP only, like any integrator: no back door into the services."""
