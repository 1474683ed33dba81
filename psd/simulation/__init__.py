"""The simulation room of uara.psd: timelines of speculative decoding, computed, not measured.

simulator       one phone + one server: SD / PSD rounds, drafting, uplink, verification, downlink
protocols       what crosses the link per drafted token (ids, top-K logits, full logits, split, pearl)
acceptance      acceptance traces (i.i.d. or recorded) and their run lengths
serving_events  event-driven check of the pipelined-serving family (FIFO servers of passes)

Imports numpy and the model wing only; the workload, measurement and testbed rooms build on it.
"""
