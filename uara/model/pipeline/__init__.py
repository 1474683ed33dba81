"""The pipelined speculative-decoding serving problem (Zhu et al., arXiv 2510.11331): the second
problem family, beside P1. Format in :mod:`.serving_instance`, latency model in :mod:`.serving_latency`,
decisions and their evaluation in :mod:`.schedule`, solution records in :mod:`.serving_solution`;
docs/pipeline.md states the model."""

from uara.model.pipeline.schedule import (ServingDecision, ServingEvaluation, evaluate_schedule, sequential_shares,
                                          static_shares, uniform_shares)
from uara.model.pipeline.serving_instance import PIPELINE_FORMAT, PipelineInstance

__all__ = ["PIPELINE_FORMAT", "PipelineInstance", "ServingDecision", "ServingEvaluation", "evaluate_schedule",
           "sequential_shares", "static_shares", "uniform_shares"]
