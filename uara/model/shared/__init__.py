"""What both problem families share, on the ground floor of the model wing.

formats     every file-format tag of the toolkit, stated once
family      the problem-family seam: one ProblemFamily per family, family_of(file | mapping | object)
physics     the radio link (rate, coverage threshold) and the roofline cost of a forward pass
validation  field-path checkers of the JSON loaders (one-line errors naming the field)

Imports nothing of uara but errors and io; P1's modules (``uara.model``) and the pipelined-serving
family (``uara.model.pipeline``) build on it.
"""
