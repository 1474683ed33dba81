"""Speculative decoding between a phone (draft) and an edge server (target).

``uara.psd`` imports only numpy; torch, transformers and matplotlib are imported
inside the functions that need them. See docs/psd.md.
"""
