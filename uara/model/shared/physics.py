"""Physics both problem families share: the radio link and the cost of a model's forward pass.

Link (docs/model.md, "Parameter sets"; 3GPP TR 36.942 Annex A):

    r = W min(alpha log2(1 + SNR), SE_max)        bit/s                     (eq. 5 when alpha = 1, no cap)

with W the band (Hz), alpha the Shannon attenuation (1: Shannon's bound) and SE_max the peak
spectral efficiency (b/s/Hz; 0: no cap). A link is usable when its SNR, noise figure included, is
at least :data:`COVERAGE_SNR_DB` (NR decodes down to about -6 dB SINR).

Forward pass (roofline; Williams et al., CACM 2009):

    t_pass = o + max(bytes / B_mem, FLOPs / F)    s

with o a fixed per-pass overhead (s), the bytes moved (the weights read once, plus whatever the
caller adds), B_mem the memory bandwidth (B/s) and F the effective peak (FLOP/s).

P1's formulation (:mod:`uara.model.formulation`) and the pipelined-serving family
(:mod:`uara.model.pipeline`) both call these; nothing else in the toolkit restates them.
"""

from __future__ import annotations

import numpy as np

LN2 = float(np.log(2.0))

#: A device (or user) is in coverage when its best server's SNR with the noise figure is at least this (dB).
COVERAGE_SNR_DB = -6.0


def spectral_efficiency(snr: np.ndarray, shannon_attenuation: float = 1.0, max_spectral_efficiency: float = 0.0) -> np.ndarray:
    """min(alpha log2(1 + SNR), SE_max) in b/s/Hz (SE_max <= 0: no cap); shape of ``snr`` (linear)."""
    se = np.log1p(snr) / LN2  # log2(1 + SNR), accurate for tiny SNR
    if shannon_attenuation != 1.0:
        se = shannon_attenuation * se
    if max_spectral_efficiency > 0:
        se = np.minimum(se, max_spectral_efficiency)
    return se


def link_rate(band_hz: float | np.ndarray, snr: np.ndarray, shannon_attenuation: float = 1.0,
              max_spectral_efficiency: float = 0.0) -> np.ndarray:
    """r = W min(alpha log2(1 + SNR), SE_max) in bit/s (module docstring)."""
    return band_hz * spectral_efficiency(snr, shannon_attenuation, max_spectral_efficiency)


def in_coverage(snr: np.ndarray, threshold_db: float = COVERAGE_SNR_DB) -> np.ndarray:
    """10 log10(SNR) >= threshold (dB), elementwise; SNR linear."""
    return 10.0 * np.log10(np.maximum(np.asarray(snr, dtype=float), 1e-300)) >= threshold_db


def roofline_pass_s(overhead_s: float, bytes_moved: float | np.ndarray, memory_bandwidth_bytes_per_s: float,
                    flops: float | np.ndarray, peak_flops: float) -> np.ndarray:
    """t_pass = o + max(bytes / B_mem, FLOPs / F) in seconds (module docstring), elementwise."""
    return overhead_s + np.maximum(np.asarray(bytes_moved, dtype=float) / memory_bandwidth_bytes_per_s,
                                   np.asarray(flops, dtype=float) / peak_flops)
