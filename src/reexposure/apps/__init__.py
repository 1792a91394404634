"""Layer 5, applications: the ``reexpose`` command line (:mod:`.cli`, the only user of argparse),
the web app (:mod:`.web`), the benchmark (:mod:`.bench`) and the comparison sheet (:mod:`.compare`).
Nothing below imports from here."""
