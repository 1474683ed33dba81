"""Back-ends of latency-aware UARA (docs/latency_aware.md): P1's instances and coverage, decisions with a draft
length per device, the mean end-to-end latency of the PSD event simulator as the objective."""
