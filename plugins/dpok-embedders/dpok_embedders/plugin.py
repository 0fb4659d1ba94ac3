"""Entry-point module: registers the first-party embedders."""

from dpok_framework import hookimpl

from .policy_hidden import PolicyHiddenEmbedder
from .sentence_encoder import SentenceEncoderEmbedder


@hookimpl
def register_embedders(register):
    register(PolicyHiddenEmbedder)
    register(SentenceEncoderEmbedder)
