"""Back-ends of P1 (Koh & Yang's UARA problem; uara-instance files), registered in :mod:`uara.solvers`.

association  base of the association heuristics (association + allocation)
heuristics   the paper's baselines: random, max-sinr, max-compute
tma          two-phase matching (paper Alg. 1)
masac        TMA-MASAC: a trained policy's shares, then TMA
brute_force  every association, exact allocation (proven optimal; tiny instances)
exact        MISOCP branch-and-bound (SCIP through Pyomo) with the Lagrangian bound
relax        the certified convex relaxation, rounding and local search
price        branch-and-price (HiGHS master, exact pricing)
pricing      pricing of server columns (price's subproblem)
"""
