"""The real two-process testbed of uara.psd: a phone process and a server process over a shaped link.

shaped_link          a token-bucket link in the sender, due times held by the receiver
payloads             the real bytes each protocol sends, built from the models' logits
real_runner          SD / PSD between the two processes, every event timestamped, checked lossless
real_validation      calibration from real runs and the simulator's predictions of them
validation_campaign  `uara psd validate-real`: the interleaved, seeded campaign and its record

The top room of uara.psd: it may import every other room, none imports it.
"""
