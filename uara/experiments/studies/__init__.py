"""Studies that measure a question about a method rather than compare back-ends: the headroom of
TMA-MASAC's action space (:mod:`.action_headroom`)."""
