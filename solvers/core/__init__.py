"""Helpers shared by several P1 back-ends, each with a code version.

column_generation  when column generation at a branch-and-price node ends, the pricing tolerance and
                   the box step (price, relax-dw)
insertion          priced insertion of devices into servers (learned-pref)
lagrangian         the Lagrangian dual of P1 and its maximiser (a certified bound; relax, exact, price)
local_search       single-device moves with the exact allocation (relax, exact, price)
misocp             the MISOCP's usable pairs and points (relax, exact, price)
moves              Max-SINR choice and TMA's seat swaps (tma, exact, heuristics, masac)

A back-end lists the helpers it uses in ``Solver.CORE``; its resume key
(``Solver.code_version``) carries their versions, so a change here reruns every stored run of
every back-end that uses the helper. Bump the helper's entry in :data:`CORE_VERSIONS` when a
change alters results (1 is left out of keys, as for ``Solver.VERSION``).
"""

#: helper module -> version of its code; 2 for lagrangian: stages cut by the iteration limit continue,
#: 50 L-BFGS pairs (the maximised dual reaches the relaxation whatever the machine's rounding).
CORE_VERSIONS: dict[str, int] = {"column_generation": 1, "insertion": 1, "lagrangian": 2, "local_search": 1, "misocp": 1,
                                 "moves": 1}
