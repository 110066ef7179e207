"""nn: modules, layers and the Transformer pieces, built on minih2rec.autograd."""
from . import init
from .layers import Dropout, Embedding, FeedForward, LayerNorm, Linear
from .module import Module, ModuleList, Parameter
from .transformer import (BLOCKS, LevelCrossAttention, MultiHeadAttention, SASRecBackbone, TransformerBlock,
                          attention_mask)

__all__ = ["init", "Module", "ModuleList", "Parameter", "Embedding", "Linear", "LayerNorm",
           "Dropout", "FeedForward", "MultiHeadAttention", "LevelCrossAttention", "attention_mask",
           "BLOCKS", "TransformerBlock", "SASRecBackbone"]
