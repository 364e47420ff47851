"""An E(n)-equivariant graph network (Satorras et al. 2021) over whole molecules, as dense padded tensors.

Every atom exchanges messages with every other atom of its molecule; a message sees both atoms'
features, their squared distance and the pair's graph features (bond type, topological distance), so
the network knows the molecular graph while distances alone carry the geometry. Coordinates move
along the differences ``x_i - x_j``, so rotating or translating the input rotates or translates the
output coordinates, and permuting atoms permutes everything. Molecules are padded to one atom count;
``mask`` marks the real atoms.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from modelcollapse.models.neural.vae import mlp


class EGNNLayer(nn.Module):
    """One layer: messages m_ij = phi_m(h_i, h_j, |x_i - x_j|, pair_ij), coordinates
    x_i += mean_j (x_i - x_j) / (|x_i - x_j| + 1) phi_x(m_ij), features h_i += phi_h(h_i, sum_j m_ij).

    The message's first linear map is applied per atom and per pair code before the sum (the same map as
    on the concatenation, at the cost of one product per pair instead of four).
    """

    def __init__(self, hidden: int, pair_codes: int, radial: int = 16) -> None:
        super().__init__()
        self.sender, self.receiver = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden, bias=False)
        self.pair = nn.Embedding(pair_codes, hidden)
        self.centres: torch.Tensor
        self.register_buffer("centres", torch.linspace(0.0, 8.0, radial), persistent=False)  # Å
        self.radial = nn.Linear(radial, hidden, bias=False)
        self.message = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.shift = nn.Linear(hidden, 1)
        self.update = mlp([2 * hidden, hidden, hidden])

    def forward(
        self, h: torch.Tensor, x: torch.Tensor, pair: torch.Tensor, pairs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h (N, A, H), x (N, A, 3), pair (N, A, A) codes, pairs (N, A, A, 1): 1 where i != j are both atoms."""
        diff = x[:, :, None] - x[:, None]
        d = (diff.square().sum(-1, keepdim=True) + 1e-8).sqrt()  # eps: finite gradients at i == j
        rbf = torch.exp(-2.0 * (d - self.centres).square())
        pre = self.sender(h)[:, :, None] + self.receiver(h)[:, None] + self.radial(rbf) + self.pair(pair)
        m = self.message(pre) * pairs
        neighbours = pairs.sum(2).clamp(min=1.0)  # (N, A, 1)
        x = x + (diff / (d + 1.0) * self.shift(m) * pairs).sum(2) / neighbours
        return h + self.update(torch.cat([h, m.sum(2)], -1)), x


class EGNN(nn.Module):
    """Atom features (categorical columns, 0 = padding) and pair features in; new coordinates out.

    >>> net = EGNN(feature_sizes=(4, 3), pair_sizes=(5, 5), hidden=16, layers=2)
    >>> feats = torch.tensor([[[1, 1], [2, 2], [1, 1], [0, 0]]])
    >>> pair = torch.zeros(1, 4, 4, 2, dtype=torch.long)
    >>> net(feats, pair, torch.randn(1, 4, 3), torch.zeros(1, 16)).shape
    torch.Size([1, 4, 3])
    """

    def __init__(self, feature_sizes: tuple[int, ...], pair_sizes: tuple[int, ...], hidden: int, layers: int) -> None:
        super().__init__()
        self.atoms = nn.ModuleList(nn.Embedding(k, hidden, padding_idx=0) for k in feature_sizes)
        self.pair_sizes = pair_sizes
        self.layers = nn.ModuleList(EGNNLayer(hidden, math.prod(pair_sizes)) for _ in range(layers))

    def forward(
        self, features: torch.Tensor, pair: torch.Tensor, x: torch.Tensor, context: torch.Tensor
    ) -> torch.Tensor:
        """features (N, A, F) and pair (N, A, A, P) integer codes, x (N, A, 3), context (N, H) added to every
        atom (e.g. the diffusion time); returns the coordinates after the last layer, padding left at 0."""
        mask = (features[..., 0] > 0).to(x.dtype)[..., None]  # (N, A, 1)
        h = sum(emb(features[..., k]) for k, emb in enumerate(self.atoms)) + context[:, None]
        eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)[None, :, :, None]
        pairs = mask[:, :, None] * mask[:, None] * (1 - eye)
        code = pair[..., 0]
        for k, size in enumerate(self.pair_sizes[1:], 1):  # one code per combination of the pair's features
            code = code * size + pair[..., k]
        for layer in self.layers:
            h, x = layer(h * mask, x, code, pairs)
        return x * mask
