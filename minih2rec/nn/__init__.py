"""nn: modules, layers and the Transformer pieces, built on minih2rec.autograd."""
from . import init
from .attention import MultiHeadAttention, attention_mask
from .layers import Dropout, Embedding, FeedForward, LayerNorm, Linear
from .module import Module, ModuleList, Parameter
from .transformer import BLOCKS, SASRecBackbone, TransformerBlock

__all__ = ["init", "Module", "ModuleList", "Parameter", "Embedding", "Linear", "LayerNorm",
           "Dropout", "FeedForward", "MultiHeadAttention", "attention_mask", "TransformerBlock",
           "SASRecBackbone"]
