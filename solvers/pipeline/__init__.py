"""Back-ends of the pipelined-serving problem (Zhu et al., arXiv 2510.11331; docs/pipeline.md).

serving_base  the family's solver base: options, candidate lengths, solve and vetting through the driver
ordering      user orders and the prefix-sum tables of batch durations
dp            pipeline-dp: closed-form bandwidth + exact Pareto DP over contiguous batches
exhaustive    pipeline-brute-force: the same space, or every ordered set partition (proven optimal)
benchmarks    the paper's benchmarks and ablations (uniform, AD, max batch, fixed length, no overlap)
"""
