"""The DPO-Kernels maths shared by training, evaluation and selection: the objective, completion
log-probs (plain and fused), the token penalty, text-embedding lookup and the kernel fit."""

from .logps import ForwardOutput, forward_logps, sequence_logps, token_logps
from .objective import DpoKernelsObjective, ObjectiveOutput, ReferenceOutput, build_objective

__all__ = ["ForwardOutput", "forward_logps", "sequence_logps", "token_logps", "DpoKernelsObjective",
           "ObjectiveOutput", "ReferenceOutput", "build_objective"]
