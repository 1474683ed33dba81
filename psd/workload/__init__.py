"""The workload room of uara.psd: what a task asks of the models, as data.

profiles   measured or declared speculative-decoding profiles (uara-psd-profile format) and their files
declared   profiles declared from published model configurations (no weights needed)
flops      model shapes and the FLOPs / bytes of a forward pass
tasks      task samplers and per-task acceptance traces drawn from profiles

Builds on the simulation room; never imports the measurement room or the testbed.
"""
