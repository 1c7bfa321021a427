"""Shortest paths on generated terrain maps (the Warcraft benchmark of the EM-NeSy paper's
table 3): the map generator (:mod:`.terrain`, :mod:`.data`), a batched solver (:mod:`.solver`),
the perception network (:mod:`.network`), the task as inference engines read it (:mod:`.task`),
ABC-EM and blackbox differentiation (:mod:`.learners`, :mod:`.train`).

Importing this package imports no torch; its modules do."""
